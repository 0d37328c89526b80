"""svg_charts: well-formed, accessible SVG whose numbers match the data."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from vinylvault.site.charts import (
    CHAR_PX,
    NOT_ENOUGH_DATA,
    ChartError,
    bar_chart,
    column_chart,
    line_chart,
    nice_ceiling,
)

SVG = "{http://www.w3.org/2000/svg}"
DATA = [("Rock", 120), ("Jazz & <Blues>", 45), ("A very long electronic genre name", 3), ("Folk", 0)]
CHARTS = [bar_chart, column_chart, line_chart]


def parse(markup) -> ET.Element:
    return ET.fromstring(str(markup))


@pytest.mark.parametrize("chart", CHARTS)
def test_well_formed_with_title_and_desc(chart):
    root = parse(chart(DATA, chart_id="c1", title="Albums by genre"))
    assert root.tag == f"{SVG}svg"
    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == "c1-title c1-desc"
    assert root.find(f"{SVG}title").text == "Albums by genre"
    desc = root.find(f"{SVG}desc").text
    if chart is line_chart:  # a summary: a series of samples can be hundreds of points long
        assert desc == (
            "4 points from Rock to Folk: first 120 albums, last 0 albums, lowest 0 albums, highest 120 albums."
        )
    else:
        assert "Rock: 120 albums" in desc and "Jazz & <Blues>: 45 albums" in desc


@pytest.mark.parametrize("chart", CHARTS)
def test_no_data_is_said_in_words_not_drawn_as_an_empty_frame(chart):
    root = parse(chart([], chart_id="e", title="Nothing", empty="No genres known yet."))
    assert (root.tag, root.get("class"), root.get("id"), root.text) == (
        "p",
        "chart-empty muted",
        "e",
        "No genres known yet.",
    )
    assert parse(chart([], chart_id="e", title="Nothing")).text == NOT_ENOUGH_DATA


@pytest.mark.parametrize("chart", [bar_chart, column_chart])
def test_a_single_bar_still_draws(chart):
    root = parse(chart([("1990", 7)], chart_id="s", title="One"))
    assert len(root.findall(f".//{SVG}rect")) == 1


def test_a_single_point_is_no_line():
    assert parse(line_chart([("2026-12-03", 7)], chart_id="s", title="One")).get("class") == "chart-empty muted"


@pytest.mark.parametrize(
    "values, unit, axis",
    [
        ([0.2, 0.93], "KiB", ["0 KiB", "0.5 KiB", "1 KiB"]),
        ([3, 4.4], "MiB", ["0 MiB", "2.5 MiB", "5 MiB"]),
        ([0, 0], "KiB", ["0 KiB", "0.5 KiB", "1 KiB"]),
        ([12, 480], "albums", ["0 albums", "250 albums", "500 albums"]),
    ],
)
def test_the_value_axis_is_round_and_labelled_with_its_unit(values, unit, axis):
    root = parse(line_chart([(str(i), v) for i, v in enumerate(values)], chart_id="a", title="t", unit=unit))
    assert [t.text for t in root.iter(f"{SVG}text") if t.get("text-anchor") == "end"][:3] == axis


def test_a_fixed_axis_maximum_wins():
    root = parse(line_chart([("a", 40), ("b", 60)], chart_id="r", title="Hit rate", unit="%", axis_max=100))
    assert [t.text for t in root.iter(f"{SVG}text")][:3] == ["0%", "50%", "100%"]


def test_line_end_labels_fit_inside_the_view_box():
    width = 360
    root = parse(line_chart([("2026-12-01 11:18", 1), ("2026-12-03 06:16", 2)], chart_id="d", title="t", width=width))
    first, last = [
        t for t in root.iter(f"{SVG}text") if t.get("text-anchor") in ("start", "end") and "-" in (t.text or "")
    ]
    assert first.text == "2026-12-01 11:18" and last.text == "2026-12-03 06:16"  # whole, not clipped
    assert float(first.get("x")) + len(first.text) * CHAR_PX <= float(last.get("x")) - len(last.text) * CHAR_PX
    assert float(last.get("x")) <= width and float(first.get("x")) >= 0


@pytest.mark.parametrize(
    "value, expected", [(0, 1), (0.93, 1), (1, 1), (1.2, 2), (2.4, 2.5), (3, 5), (952, 1000), (101, 200)]
)
def test_nice_ceiling(value, expected):
    assert nice_ceiling(value) == pytest.approx(expected)


@pytest.mark.parametrize("chart", CHARTS)
@pytest.mark.parametrize("bad", [-1, float("nan"), float("inf")])
def test_rejects_values_that_cannot_be_drawn(chart, bad):
    with pytest.raises(ChartError):
        chart([("x", bad)], chart_id="b", title="Bad")


def test_bar_lengths_are_proportional_and_labels_are_text():
    root = parse(bar_chart(DATA, chart_id="g", title="Genres"))
    widths = [float(r.get("width")) for r in root.findall(f"{SVG}rect")]
    assert widths[0] == max(widths)
    assert widths[1] == pytest.approx(widths[0] * 45 / 120, abs=0.1)
    assert widths[3] == 0
    texts = [t.text for t in root.findall(f"{SVG}text")]
    assert "Rock" in texts and "120" in texts
    assert "A very long ele…" in texts  # shortened, full name kept in <desc>


def test_column_heights_share_one_baseline():
    root = parse(column_chart([("1960s", 10), ("1970s", 20)], chart_id="d", title="Decades"))
    rects = root.findall(f"{SVG}rect")
    bottoms = {float(r.get("y")) + float(r.get("height")) for r in rects}
    assert len(bottoms) == 1
    assert float(rects[1].get("height")) == pytest.approx(2 * float(rects[0].get("height")))


def test_line_passes_through_every_point():
    root = parse(line_chart([("2023-01", 1), ("2023-02", 4), ("2023-03", 2)], chart_id="l", title="Added"))
    points = root.find(f"{SVG}polyline").get("points").split()
    assert len(points) == 3
    assert len(root.findall(f"{SVG}circle")) == 3


def test_chart_id_is_escaped():
    root = parse(bar_chart(DATA, chart_id='x"><script>', title="t"))
    assert root.find(f"{SVG}title").get("id") == 'x"><script>-title'
