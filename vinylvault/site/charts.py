"""Small, accessible charts drawn as inline SVG on the server.

No chart library and no JavaScript: each function returns a complete
``<svg>`` element as :class:`markupsafe.Markup`, ready to drop into a
template. Every chart carries a ``<title>`` and ``<desc>`` (referenced by
``aria-labelledby``) and draws its labels and values as real text, so screen
readers and people who cannot tell colours apart read the same numbers.

Colours come from CSS classes (``chart-bar``, ``chart-line``, ``chart-text``,
``chart-axis``, ``chart-grid``) that the stylesheet maps to theme variables,
which is how the charts keep AA contrast in both the dark and the light theme.

Data too thin to chart (no rows; a line through fewer than two points) gives
a sentence saying so (``<p class="chart-empty">``) instead of an empty frame.
Every label is drawn inside the ``viewBox``: nothing depends on overflow.
"""

from __future__ import annotations

import math
from typing import Sequence

from markupsafe import Markup, escape

#: Characters kept of a category label before it is shortened with an ellipsis.
LABEL_CHARS = 16
#: Said where a chart would have nothing to draw, unless the caller says something more precise.
NOT_ENOUGH_DATA = "Not enough data for this chart yet."
#: Width of one character of the charts' 12 px text, generously (labels must fit the viewBox).
CHAR_PX = 7.2

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


def not_enough_data(chart_id: str, message: str = NOT_ENOUGH_DATA) -> Markup:
    """The sentence shown in a chart's place when there is nothing worth drawing."""
    return Markup(f'<p class="chart-empty muted" id="{escape(chart_id)}">{escape(message)}</p>')


def bar_chart(
    data: Series,
    *,
    chart_id: str,
    title: str,
    unit: str = "albums",
    width: int = 360,
    row_height: int = 26,
    empty: str = NOT_ENOUGH_DATA,
) -> Markup:
    """Horizontal bars, one row per ``(label, value)``, largest scale first.

    Suits categories with long names (genres, formats): the label sits left of
    its bar and the value right of it. The ``<desc>`` lists every value.
    No rows: the ``empty`` sentence instead.
    """
    rows = _check(data)
    if not rows:
        return not_enough_data(chart_id, empty)
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


def column_chart(
    data: Series,
    *,
    chart_id: str,
    title: str,
    unit: str = "albums",
    width: int = 360,
    height: int = 180,
    empty: str = NOT_ENOUGH_DATA,
) -> Markup:
    """Vertical columns in the given order (decades, years): short labels below, values above.

    No rows: the ``empty`` sentence instead.
    """
    rows = _check(data)
    if not rows:
        return not_enough_data(chart_id, empty)
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


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 times a power of ten that is at least ``value`` (1 for 0)."""
    if value <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    return next(step * power for step in (1, 2, 2.5, 5, 10) if step * power >= value * (1 - 1e-9))


def _tick(value: float, unit: str) -> str:
    number = f"{value:,.2f}".rstrip("0").rstrip(".")
    return f"{number}{unit}" if unit == "%" else f"{number} {unit}"


def _describe_line(rows: list[tuple[str, float]], unit: str) -> str:
    """A summary, not every point: a series of hundreds of samples would drown a screen reader."""
    values = [value for _, value in rows]
    return (
        f"{len(rows)} points from {rows[0][0]} to {rows[-1][0]}: first {_tick(values[0], unit)}, "
        f"last {_tick(values[-1], unit)}, lowest {_tick(min(values), unit)}, "
        f"highest {_tick(max(values), unit)}."
    )


def line_chart(
    data: Series,
    *,
    chart_id: str,
    title: str,
    unit: str = "albums",
    width: int = 360,
    height: int = 160,
    axis_max: float | None = None,
    empty: str = NOT_ENOUGH_DATA,
    value_labels: Sequence[str] | None = None,
) -> Markup:
    """A line through the points in order (samples over time), with a labelled value axis.

    The value axis runs from 0 to ``axis_max`` (default: a round number at
    or above the largest value), labelled at 0, half and top in ``unit``, so
    a tiny series reads "0.5 KiB", never a lone "0". The first and last
    labels sit under the ends of the line, inside the frame. Fewer than two
    points make no line: the ``empty`` sentence instead.

    ``value_labels`` (one per point) are values whose written form matters
    (money as Discogs formats it): the axis then carries no numbers, which
    would have to guess a decimal separator, and the highest point is
    labelled with its own text.
    """
    rows = _check(data)
    if value_labels is not None and len(value_labels) != len(rows):
        raise ChartError("value_labels needs one label per point")
    if len(rows) < 2:
        return not_enough_data(chart_id, empty)
    top = axis_max or nice_ceiling(max(value for _, value in rows))
    ticks = [top * share for share in (0, 0.5, 1)]
    axis_w = 8 if value_labels else round(max(len(_tick(t, unit)) for t in ticks) * CHAR_PX) + 8
    pad_top, pad_right, label_h = 10, 8, 22
    plot_w, plot_h = width - axis_w - pad_right, height - pad_top - label_h
    base = pad_top + plot_h
    step = plot_w / (len(rows) - 1)
    points = [
        (round(axis_w + i * step, 1), round(base - plot_h * min(v, top) / top, 1)) for i, (_, v) in enumerate(rows)
    ]
    body = []
    for value in ticks:
        y = round(base - plot_h * value / top, 1)
        body.append(
            f'<line class="{"chart-axis" if value == 0 else "chart-grid"}" x1="{axis_w}" y1="{y}" '
            f'x2="{width - pad_right}" y2="{y}"/>'
        )
        if not value_labels:
            body.append(
                f'<text class="chart-text chart-value" x="{axis_w - 6}" y="{y}" text-anchor="end" '
                f'dominant-baseline="central">{escape(_tick(value, unit))}</text>'
            )
    path = " ".join(f"{x},{y}" for x, y in points)
    body.append(f'<polyline class="chart-line" fill="none" points="{path}"/>')
    body.extend(f'<circle class="chart-bar" cx="{x}" cy="{y}" r="3"/>' for x, y in points)
    room = int((plot_w / 2 - 8) / CHAR_PX)  # each end label may use half the width
    body.append(
        f'<text class="chart-text" x="{axis_w}" y="{height - 5}" text-anchor="start">'
        f"{escape(_short(rows[0][0], room))}</text>"
        f'<text class="chart-text" x="{width - pad_right}" y="{height - 5}" text-anchor="end">'
        f"{escape(_short(rows[-1][0], room))}</text>"
    )
    if value_labels:
        peak = max(range(len(rows)), key=lambda i: rows[i][1])
        x, y = points[peak]
        # At either end a centred label would be cut off by the edge of the chart.
        anchor = "start" if peak == 0 else "end" if peak == len(rows) - 1 else "middle"
        body.append(
            f'<text class="chart-text chart-value" x="{x}" y="{max(y - 6, 12)}" '
            f'text-anchor="{anchor}">{escape(value_labels[peak])}</text>'
        )
        desc = "; ".join(f"{label}: {text}" for (label, _), text in zip(rows, value_labels))
    else:
        desc = _describe_line(rows, unit)
    return _svg(chart_id, width, height, title, desc, body)
