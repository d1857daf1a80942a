"""The HTML report: one self-contained file with the run's figures, curves, tables, data check and candidates."""

import csv
import json
import re
import shutil
import subprocess

import pytest

from studio.core.errors import StudioError
from studio.core.report import MISLABELS_CSV, build_report, write_report
from studio.core.report_svg import Series, line_chart, nice_ticks
from tests.run_pairs import copy_runs


@pytest.fixture
def run(tiny_model_dir, tmp_path):
    return copy_runs(tmp_path, tiny_model_dir)[1]


def _self_contained(page: str) -> None:
    assert not re.search(r"https?://", page), "the report must not link anything outside itself"
    assert not re.search(r"<(script|link|img|iframe)\b", page)
    assert not re.search(r"\bsrc=", page)


def test_the_report_is_one_file_with_the_runs_figures_and_inline_charts(run, tmp_path):
    out = write_report(run, tmp_path / "out" / "report.html", find_mislabels=False)
    page = out.read_text(encoding="utf-8")
    _self_contained(page)
    metrics = json.loads((run / "model" / "metrics.json").read_text())
    assert f"{metrics['f1']:.4f}" in page and f"{metrics['accuracy']:.4f}" in page
    assert page.count("<svg") == 2 and page.count('class="series"') == 3  # training, validation loss; F1
    for section in ("figures", "curves", "confusion", "per-class", "data", "preflight", "settings", "mislabels"):
        assert f"id='{section}'" in page
    confusion = re.search(r"<table class='confusion'>(.*?)</table>", page).group(1)
    cells = [int(n) for n in re.findall(r"<td class='cell'[^>]*>([\d,]+)</td>", confusion)]
    assert cells == [n for row in metrics["confusion"] for n in row]
    assert "learning_rate</td><td>0.002" in page
    assert "run studio mislabels first" in page
    assert not list(out.parent.glob(".*partial"))


def test_a_mislabels_csv_in_the_run_folder_is_shown(run):
    with open(run / MISLABELS_CSV, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["split", "row", "text", "label", "suggested", "score", "flagged", "file"])
        writer.writerow(["validation", "17", "awful <b>mess</b>", "positive", "negative", "0.97", "yes", "small.csv"])
    page = build_report(run, check_data=False)
    assert "awful &lt;b&gt;mess&lt;/b&gt;" in page and "0.97" in page
    assert "run studio mislabels first" not in page


def test_the_report_ranks_candidates_with_the_runs_model(run):
    page = build_report(run, check_data=False, find_mislabels=True)
    table = re.search(r"<table class='mislabels'>(.*?)</table>", page, re.S)
    assert table is not None and table.group(1).count("<tr>") >= 2  # header and at least one row


def test_bad_output_and_run_are_sentences(run, tmp_path):
    with pytest.raises(StudioError, match="is a folder"):
        write_report(run, tmp_path)
    with pytest.raises(StudioError, match="not a training run folder"):
        write_report(tmp_path, tmp_path / "r.html")


def test_charts_have_round_ticks_and_survive_empty_and_flat_series():
    assert nice_ticks(0, 14) == [0, 5, 10, 15]
    assert nice_ticks(0.33, 0.33)[0] <= 0.33 <= nice_ticks(0.33, 0.33)[-1]
    # One evaluation (a one-epoch run): its point sits inside the axes, not on the left edge.
    assert nice_ticks(70, 70) == [66, 68, 70, 72, 74]
    assert nice_ticks(0, 0)[0] == 0  # a step or a loss of 0 gets no negative axis
    assert "No points were logged" in line_chart([Series("loss", [], [])], "Loss", "loss")
    svg = line_chart([Series("a<b", [1, 2], [0.5, float("nan")])], "T & U", "y")
    assert "a&lt;b" in svg and "T &amp; U" in svg


def _browser():
    return next((b for b in ("chromium-headless-shell", "chromium", "google-chrome") if shutil.which(b)), None)


@pytest.mark.skipif(_browser() is None, reason="no headless Chromium here")
def test_a_real_browser_renders_the_report(run, tmp_path):
    out = write_report(run, tmp_path / "report.html", find_mislabels=False)
    shot = tmp_path / "report.png"
    done = subprocess.run(
        [
            _browser(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            f"--screenshot={shot}",
            "--window-size=1200,2000",
            out.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    image_module = pytest.importorskip("PIL.Image")
    image = image_module.open(shot).convert("RGB")
    assert image.size == (1200, 2000)
    colours = {image.getpixel((x, y)) for x in range(0, 1200, 7) for y in range(400, 900, 7)}
    assert len(colours) > 20  # the charts' lines and text, not a blank page


def test_only_settings_the_user_changed_are_bold(run):
    # The columns and the task were inferred and the files are the data, not settings with a default: a run
    # that names them in its config.json has not changed them.
    page = build_report(run, check_data=False)
    settings = re.search(r"<table class='settings'>(.*?)</table>", page, re.S).group(1)
    bold = re.findall(r"<tr class='changed'><td>(\w+)</td>", settings)
    assert sorted(bold) == sorted(
        ["model", "learning_rate", "epochs", "batch_size", "max_length", "evaluations_per_epoch", "device"]
    )
    assert "<td>text_column</td><td>text</td>" in settings
