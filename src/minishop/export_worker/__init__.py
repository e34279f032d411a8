"""The span exporter process: OTLP encoding and HTTP export away from the services' GIL.

A service hands its finished spans, flattened to plain tuples (``wire.flat_span``'s layout),
to a child interpreter started with ``python -m minishop.export_worker``; the child encodes
them to OTLP/protobuf and POSTs them to the collector. Every module here imports the standard
library only (an import-linter contract holds it), so the child stays a bare interpreter of a
few MB instead of a second copy of FastAPI and the OpenTelemetry SDK.
"""
