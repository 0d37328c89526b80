"""Small, accessible charts drawn as inline SVG on the server.

No chart library and no JavaScript: each function returns a complete
``<svg>`` element as :class:`markupsafe.Markup`, ready to drop into a
template. Every chart carries a ``<title>`` and ``<desc>`` (referenced by
``aria-labelledby``) and draws its labels and values as real text, so screen
readers and people who cannot tell colours apart read the same numbers.

Colours come from CSS classes (``chart-bar``, ``chart-line``, ``chart-text``,
``chart-axis``) that the stylesheet maps to theme variables, which is how
the charts keep AA contrast in both the dark and the light theme.
"""

from __future__ import annotations

from typing import Sequence

from markupsafe import Markup, escape

#: Characters kept of a category label before it is shortened with an ellipsis.
LABEL_CHARS = 16

Series = Sequence[tuple[str, float]]


class ChartError(ValueError):
    """The data cannot be drawn (negative or non-finite values)."""


def _check(data: Series) -> list[tuple[str, float]]:
    rows = [(str(label), float(value)) for label, value in data]
    for label, value in rows:
        if value != value or value < 0 or value == float("inf"):
            raise ChartError(f"chart value for {label!r} must be a finite number >= 0, got {value!r}")
    return rows


def _short(label: str, limit: int = LABEL_CHARS) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def _number(value: float) -> str:
    return f"{value:,.0f}" if value == int(value) else f"{value:,.1f}"


def _svg(chart_id: str, width: int, height: int, title: str, desc: str, body: list[str]) -> Markup:
    """Wrap drawn elements in an ``<svg>`` with its accessible name and description."""
    cid = escape(chart_id)
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{cid}" role="img" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'preserveAspectRatio="xMinYMin meet" aria-labelledby="{cid}-title {cid}-desc">'
        f'<title id="{cid}-title">{escape(title)}</title>'
        f'<desc id="{cid}-desc">{escape(desc)}</desc>'
    )
    return Markup(head + "".join(body) + "</svg>")


def _describe(rows: list[tuple[str, float]], unit: str) -> str:
    return "; ".join(f"{label}: {_number(value)} {unit}" for label, value in rows) or "No data."


def bar_chart(data: Series, *, chart_id: str, title: str, unit: str = "albums",
              width: int = 360, row_height: int = 26) -> Markup:
    """Horizontal bars, one row per ``(label, value)``, largest scale first.

    Suits categories with long names (genres, formats): the label sits left of
    its bar and the value right of it. The ``<desc>`` lists every value.
    """
    rows = _check(data)
    label_w, value_w = 128, 52
    bar_space = width - label_w - value_w
    top = max((v for _, v in rows), default=0) or 1
    height = max(row_height * len(rows), row_height)
    body = []
    for i, (label, value) in enumerate(rows):
        y = i * row_height
        bar_w = max(round(bar_space * value / top, 1), 2 if value else 0)
        mid = y + row_height / 2
        body.append(
            f'<text class="chart-text" x="{label_w - 8}" y="{mid}" text-anchor="end" '
            f'dominant-baseline="central">{escape(_short(label))}</text>'
            f'<rect class="chart-bar" x="{label_w}" y="{y + 4}" width="{bar_w}" '
            f'height="{row_height - 8}" rx="3"/>'
            f'<text class="chart-text chart-value" x="{label_w + bar_w + 6}" y="{mid}" '
            f'dominant-baseline="central">{_number(value)}</text>'
        )
    return _svg(chart_id, width, height, title, _describe(rows, unit), body)


def column_chart(data: Series, *, chart_id: str, title: str, unit: str = "albums",
                 width: int = 360, height: int = 180) -> Markup:
    """Vertical columns in the given order (decades, years): short labels below, values above."""
    rows = _check(data)
    label_h, value_h = 22, 18
    plot_h = height - label_h - value_h
    top = max((v for _, v in rows), default=0) or 1
    slot = width / max(len(rows), 1)
    col_w = max(min(slot * 0.7, 48), 4)
    base = value_h + plot_h
    body = [f'<line class="chart-axis" x1="0" y1="{base}" x2="{width}" y2="{base}"/>']
    for i, (label, value) in enumerate(rows):
        col_h = round(plot_h * value / top, 1)
        x = round(i * slot + (slot - col_w) / 2, 1)
        centre = round(i * slot + slot / 2, 1)
        body.append(
            f'<rect class="chart-bar" x="{x}" y="{base - col_h}" width="{round(col_w, 1)}" '
            f'height="{col_h}" rx="2"/>'
            f'<text class="chart-text chart-value" x="{centre}" y="{base - col_h - 4}" '
            f'text-anchor="middle">{_number(value)}</text>'
            f'<text class="chart-text" x="{centre}" y="{height - 5}" '
            f'text-anchor="middle">{escape(_short(label, 6))}</text>'
        )
    return _svg(chart_id, width, height, title, _describe(rows, unit), body)


def line_chart(data: Series, *, chart_id: str, title: str, unit: str = "albums",
               width: int = 360, height: int = 160, value_labels: Sequence[str] | None = None) -> Markup:
    """A line through the points in order (additions per month), first and last labelled.

    Every point also gets a small dot, so a single point is still visible.
    ``value_labels`` (one per point) are shown instead of the numbers, for
    values whose written form matters (money as Discogs formats it).
    """
    rows = _check(data)
    if value_labels is not None and len(value_labels) != len(rows):
        raise ChartError("value_labels needs one label per point")
    shown = list(value_labels) if value_labels is not None else [_number(v) for _, v in rows]
    pad_x, label_h, value_h = 8, 22, 18
    plot_h = height - label_h - value_h
    top = max((v for _, v in rows), default=0) or 1
    step = (width - 2 * pad_x) / max(len(rows) - 1, 1)
    base = value_h + plot_h
    points = [(round(pad_x + i * step, 1), round(base - plot_h * v / top, 1)) for i, (_, v) in enumerate(rows)]
    body = [f'<line class="chart-axis" x1="0" y1="{base}" x2="{width}" y2="{base}"/>']
    if len(points) > 1:
        path = " ".join(f"{x},{y}" for x, y in points)
        body.append(f'<polyline class="chart-line" fill="none" points="{path}"/>')
    body.extend(f'<circle class="chart-bar" cx="{x}" cy="{y}" r="3"/>' for x, y in points)
    peak = max(range(len(rows)), key=lambda i: rows[i][1], default=None)
    if peak is not None:
        x, y = points[peak]
        # At either end a centred label would be cut off by the edge of the chart.
        anchor = "start" if peak == 0 and len(rows) > 1 else "end" if peak == len(rows) - 1 and peak else "middle"
        body.append(f'<text class="chart-text chart-value" x="{x}" y="{y - 6}" '
                    f'text-anchor="{anchor}">{escape(shown[peak])}</text>')
    for index, anchor in ((0, "start"), (len(rows) - 1, "end")):
        if rows and (index == 0 or len(rows) > 1):
            body.append(f'<text class="chart-text" x="{points[index][0]}" y="{height - 5}" '
                        f'text-anchor="{anchor}">{escape(_short(rows[index][0], 10))}</text>')
    desc = _describe(rows, unit) if value_labels is None else \
        "; ".join(f"{label}: {text}" for (label, _), text in zip(rows, shown)) or "No data."
    return _svg(chart_id, width, height, title, desc, body)
