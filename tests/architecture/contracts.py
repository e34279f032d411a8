"""An import-linter contract type that lists what a package MAY import, not what it may not.

The built-in ``forbidden`` contract is a deny-list: it lets through every library nobody
thought to name (a domain importing ``aiohttp`` passed because only ``httpx`` was listed).
For the inner layers the rule is the other way round: a domain may use the standard library
and itself, and nothing else. This contract states that directly.

It lives with the architecture tests, not in the ``minishop`` package: it is a check run on the
code, never part of the running shop. ``lint-imports`` puts the working directory on the
import path, so ``./dev lint`` finds it as ``tests.architecture.contracts`` from the project
root (pyproject's ``contract_types``).

Only direct imports are examined, and that hides nothing: when every direct import of a
package is the standard library, the package itself or an allowed module, whatever those reach
is either checked by the same rule (the package), outside the project (the standard library),
or an allowed module the configuration chose to trust (and checks with its own contract).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

import grimp
from importlinter import Contract, ContractCheck, fields, output

CONTAINER_PLACEHOLDER = "{container}"


@dataclass(frozen=True)
class IllegalImport:
    importer: str
    imported: str
    line_numbers: tuple[int, ...]


@dataclass
class SourceViolations:
    """What one source package imports beyond its allow-list."""

    source: str
    allowed: tuple[str, ...]
    imports: list[IllegalImport] = field(default_factory=list)


class AllowListContract(Contract):
    """Each source package imports only the standard library, itself and the allowed modules.

    Configuration options:
        - source_modules:  module expressions (``minishop.*.domain``); each match is checked as
                           a package: it and its descendants may import each other.
        - allowed_modules: modules (and their descendants) a source may import besides the
                           standard library and itself. ``{container}`` stands for the parent
                           of the matched source, so ``{container}.domain`` lets
                           ``minishop.orders.application`` import ``minishop.orders.domain``
                           but not ``minishop.users.domain``. External packages are named by
                           their top-level name (grimp records no deeper). (Optional.)
        - allow_standard_library: whether ``sys.stdlib_module_names`` are allowed. (Default
                           true.)
        - broken_contract_guidance: printed after the violations. (Optional.)
    """

    type_name = "allow_list"

    source_modules = fields.ListField(subfield=fields.ModuleExpressionField())
    allowed_modules = fields.ListField(subfield=fields.StringField(), required=False)
    allow_standard_library = fields.BooleanField(required=False, default=True)
    broken_contract_guidance = fields.TextField(required=False)

    def check(self, graph: grimp.ImportGraph, verbose: bool) -> ContractCheck:
        violations: list[SourceViolations] = []
        for source in self._sources(graph):
            container = source.rpartition(".")[0]
            allowed = (
                source,
                *(
                    name.replace(CONTAINER_PLACEHOLDER, container)
                    for name in self.allowed_modules or ()  # type: ignore[attr-defined]
                ),
            )
            found = SourceViolations(source, allowed)
            for importer in sorted({source} | graph.find_descendants(source)):
                for imported in sorted(graph.find_modules_directly_imported_by(importer)):
                    if self._is_allowed(imported, allowed):
                        continue
                    details = graph.get_import_details(importer=importer, imported=imported)
                    found.imports.append(
                        IllegalImport(importer, imported, tuple(d["line_number"] for d in details))
                    )
            output.verbose_print(
                verbose, f"{source}: {len(found.imports)} import(s) outside its allow-list."
            )
            if found.imports:
                violations.append(found)
        return ContractCheck(kept=not violations, metadata={"violations": violations})

    def render_broken_contract(self, check: ContractCheck) -> None:
        standard = "the standard library, " if self.allow_standard_library else ""
        for found in check.metadata["violations"]:
            output.print_error(
                f"{found.source} may import only {standard}{', '.join(found.allowed)}:",
                bold=False,
            )
            output.new_line()
            for illegal in found.imports:
                lines = ", ".join(f"l.{n}" for n in illegal.line_numbers) or "l.?"
                output.print_error(
                    f"- {illegal.importer} -> {illegal.imported} ({lines})", bold=False
                )
            output.new_line()
        if self.broken_contract_guidance:
            output.print(self.broken_contract_guidance)  # type: ignore[arg-type]
            output.new_line()

    def _sources(self, graph: grimp.ImportGraph) -> list[str]:
        """The matched source packages; an expression matching nothing is a configuration
        error (a typo would otherwise make the contract pass by checking nothing)."""
        sources: set[str] = set()
        for expression in self.source_modules:  # type: ignore[attr-defined]
            text = expression.expression
            matched = (
                graph.find_matching_modules(text)
                if expression.has_wildcard_expression()
                else ({text} & graph.modules)
            )
            if not matched:
                raise ValueError(f"{self.name}: {text!r} matches no module.")
            sources |= matched
        return sorted(sources)

    def _is_allowed(self, imported: str, allowed: tuple[str, ...]) -> bool:
        if any(imported == name or imported.startswith(f"{name}.") for name in allowed):
            return True
        top = imported.partition(".")[0]
        internal = top in self.session_options["root_packages"]
        return bool(self.allow_standard_library and not internal and top in sys.stdlib_module_names)
