"""svg_charts: well-formed, accessible SVG whose numbers match the data."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from vinylvault.svg_charts import ChartError, bar_chart, column_chart, line_chart

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
    assert "Rock: 120 albums" in desc and "Jazz & <Blues>: 45 albums" in desc


@pytest.mark.parametrize("chart", CHARTS)
def test_empty_and_single_point_still_draw(chart):
    assert parse(chart([], chart_id="e", title="Nothing")).find(f"{SVG}desc").text == "No data."
    root = parse(chart([("1990", 7)], chart_id="s", title="One"))
    assert root.findall(f".//{SVG}rect") or root.findall(f".//{SVG}circle")


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
