"""The confusion matrix's column names never run into each other: numbered when they do not fit, named when they do."""

from __future__ import annotations

import pytest

from studio.ui.charts import ConfusionHeatmap

GOEMOTIONS = [
    "admiration",
    "amusement",
    "anger",
    "annoyance",
    "approval",
    "caring",
    "confusion",
    "curiosity",
    "desire",
    "disappointment",
    "disapproval",
    "disgust",
    "embarrassment",
    "excitement",
    "fear",
]


@pytest.fixture
def chart(qtbot) -> ConfusionHeatmap:
    """A confusion matrix chart on screen, 520 by 420."""
    widget = ConfusionHeatmap()
    qtbot.addWidget(widget)
    widget.resize(520, 420)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def _ticks(chart: ConfusionHeatmap, axis: str) -> list[str]:
    return [text for _, text in chart.getAxis(axis)._tickLevels[0]]


def test_many_long_names_are_numbered_and_few_short_ones_named(qtbot, chart):
    n = len(GOEMOTIONS)
    chart.show_matrix(GOEMOTIONS, [[int(r == c) * 5 for c in range(n)] for r in range(n)])
    assert _ticks(chart, "bottom") == [str(i + 1) for i in range(n)]
    assert _ticks(chart, "left")[9] == "10 · disappointment"

    chart.show_matrix(["ham", "spam"], [[60, 2], [3, 9]])
    assert _ticks(chart, "bottom") == ["ham", "spam"]
    assert _ticks(chart, "left") == ["ham", "spam"]

    # Wide enough for the long names again: they come back on a resize.
    chart.show_matrix(GOEMOTIONS[:3], [[1, 0, 0], [0, 1, 0], [0, 0, 1]])
    assert _ticks(chart, "bottom") == GOEMOTIONS[:3]
    chart.resize(140, 420)
    qtbot.waitUntil(lambda: _ticks(chart, "bottom") == ["1", "2", "3"])


def test_an_empty_matrix_has_no_scale_until_labels_come(chart):
    # Before a run: no axis counting an empty view (it read -500 to 500), and the title says there is none yet.
    assert not chart.getAxis("left").isVisible() and not chart.getAxis("bottom").isVisible()
    assert "none yet" in chart.getPlotItem().titleLabel.text
    chart.show_matrix(["ham", "spam"], [[60, 2], [3, 9]])
    assert chart.getAxis("left").isVisible() and chart.getAxis("bottom").isVisible()
    assert chart.getPlotItem().titleLabel.text == "Confusion matrix (validation rows)"
    chart.show_matrix([], [])
    assert not chart.getAxis("bottom").isVisible()
