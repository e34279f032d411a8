"""The service map drawn on the server as SVG: no script, readable in any browser, testable.

Nodes stand in columns by call depth (``application.service_map.layout_map``); each edge is
an arrow from caller to callee labelled with its rate, error share and p95, red when the
calls fail often.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from minishop.console.adapters.web.templating import service_colour
from minishop.console.application.ports import Edge
from minishop.console.application.service_map import error_ratio, is_error_heavy, layout_map

NODE_WIDTH = 150
NODE_HEIGHT = 40
COLUMN_GAP = 170  # room for an edge's label between two columns
ROW_GAP = 40
MARGIN = 20
LABEL_WIDTH = 150  # what an edge's label needs at 11 px: room kept right of the last column
BULGE_PER_ROW = 40  # how far a call that skips boxes in its column bends out to the right
ERROR_RED = "#d62728"
EDGE_GREY = "#555"


def edge_label(edge: Edge) -> tuple[str, str]:
    """Two short lines, so a label fits between two columns."""
    return (
        f"{edge.rate:.2f} req/s · {error_ratio(edge) * 100:.1f}% err",
        f"p95 {edge.p95_ms:.0f} ms",
    )


def render_service_map(nodes: Sequence[str], edges: Sequence[Edge]) -> str:
    """An ``<svg>`` element (a string safe to embed: every name is escaped)."""
    layout = layout_map(nodes, edges)
    if not layout.columns:
        return ""
    position: dict[str, tuple[int, int]] = {}
    for column, names in enumerate(layout.columns):
        for row, name in enumerate(names):
            x = MARGIN + column * (NODE_WIDTH + COLUMN_GAP)
            y = MARGIN + row * (NODE_HEIGHT + ROW_GAP)
            position[name] = (x, y)
    width = MARGIN * 2 + len(layout.columns) * (NODE_WIDTH + COLUMN_GAP) - COLUMN_GAP
    # Calls within one column carry their label on the right of the column: keep room for it.
    width = max(
        [width]
        + [
            int(_label_x(position[edge.caller], position[edge.callee])) + LABEL_WIDTH + MARGIN
            for edge in edges
            if position[edge.caller][0] == position[edge.callee][0]
        ]
    )
    tallest = max(len(names) for names in layout.columns)
    height = MARGIN * 2 + tallest * (NODE_HEIGHT + ROW_GAP) - ROW_GAP + 40
    parts = [
        f'<svg class="service-map" role="img" aria-label="Service map" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        'xmlns="http://www.w3.org/2000/svg">',
        "<defs>",
        _marker("arrow", EDGE_GREY),
        _marker("arrow-error", ERROR_RED),
        "</defs>",
    ]
    for edge in edges:
        parts.append(_edge(edge, position[edge.caller], position[edge.callee]))
    for name, (x, y) in position.items():
        colour = service_colour(name)
        parts.append(
            f'<g class="node" data-service="{escape(name)}">'
            f'<rect x="{x}" y="{y}" width="{NODE_WIDTH}" height="{NODE_HEIGHT}" rx="6" '
            f'fill="#fff" stroke="{colour}" stroke-width="2"/>'
            f'<text x="{x + NODE_WIDTH / 2}" y="{y + NODE_HEIGHT / 2 + 5}" '
            f'text-anchor="middle" fill="{colour}" font-weight="bold">{escape(name)}</text></g>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _marker(name: str, colour: str) -> str:
    return (
        f'<marker id="{name}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="10" '
        'markerHeight="10" markerUnits="userSpaceOnUse" orient="auto-start-reverse">'
        '<path d="M 0 0 L 10 5 L 0 10 z" '
        f'fill="{colour}"/></marker>'
    )


def _edge(edge: Edge, caller: tuple[int, int], callee: tuple[int, int]) -> str:
    heavy = is_error_heavy(edge)
    colour = ERROR_RED if heavy else EDGE_GREY
    x1, y1 = caller[0] + NODE_WIDTH, caller[1] + NODE_HEIGHT / 2
    x2, y2 = callee[0], callee[1] + NODE_HEIGHT / 2
    anchor = "middle"
    if caller[0] == callee[0] and _rows_apart(caller, callee) > 1:
        # Same column, boxes in between: a curve out to the right, never across a box.
        x1 = x2 = caller[0] + NODE_WIDTH
        bend = x1 + BULGE_PER_ROW * _rows_apart(caller, callee)
        path = f"M {x1} {y1} C {bend} {y1}, {bend} {y2}, {x2} {y2}"
        label_x, label_y, anchor = _label_x(caller, callee), (y1 + y2) / 2 - 4, "start"
    elif caller[0] == callee[0]:  # neighbours in a column: a straight arrow between the boxes
        x1 = x2 = caller[0] + NODE_WIDTH / 2
        downward = callee[1] > caller[1]
        y1 = caller[1] + (NODE_HEIGHT if downward else 0)
        y2 = callee[1] + (0 if downward else NODE_HEIGHT)
        path = f"M {x1} {y1} L {x2} {y2}"
        label_x, label_y, anchor = _label_x(caller, callee), (y1 + y2) / 2 - 4, "start"
    elif x2 <= x1:  # a call back to an earlier column: a curve under the boxes
        x1, x2 = caller[0] + NODE_WIDTH / 2, callee[0] + NODE_WIDTH / 2
        y1, y2 = caller[1] + NODE_HEIGHT, callee[1] + NODE_HEIGHT
        bottom = max(y1, y2) + ROW_GAP / 2
        path = f"M {x1} {y1} C {x1} {bottom}, {x2} {bottom}, {x2} {y2}"
        label_x, label_y = (x1 + x2) / 2, bottom + 4
    else:
        path = f"M {x1} {y1} L {x2} {y2}"
        label_x, label_y = (x1 + x2) / 2, (y1 + y2) / 2 - 20
    css = "edge error-heavy" if heavy else "edge"
    first, second = edge_label(edge)
    return (
        f'<g class="{css}" data-from="{escape(edge.caller)}" data-to="{escape(edge.callee)}">'
        f'<path d="{path}" fill="none" stroke="{colour}" stroke-width="{3 if heavy else 1.5}" '
        f'marker-end="url(#{"arrow-error" if heavy else "arrow"})"/>'
        f'<text x="{label_x}" y="{label_y}" text-anchor="{anchor}" font-size="11" '
        f'fill="{colour}" stroke="#fff" stroke-width="3" paint-order="stroke">'
        f'<tspan x="{label_x}">{escape(first)}</tspan>'
        f'<tspan x="{label_x}" dy="13">{escape(second)}</tspan></text></g>'
    )


def _rows_apart(caller: tuple[int, int], callee: tuple[int, int]) -> int:
    return round(abs(callee[1] - caller[1]) / (NODE_HEIGHT + ROW_GAP))


def _label_x(caller: tuple[int, int], callee: tuple[int, int]) -> float:
    """Where the label of a call within one column starts: beside its arrow or its curve."""
    rows = _rows_apart(caller, callee)
    if rows > 1:  # the curve's rightmost point is three quarters of the way to its bend
        return caller[0] + NODE_WIDTH + 0.75 * BULGE_PER_ROW * rows + 10
    return caller[0] + NODE_WIDTH / 2 + 8
