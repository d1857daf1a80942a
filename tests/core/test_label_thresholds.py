"""Per-label thresholds of a multi-label export: the curves in metrics.json, and one label's threshold set by hand."""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pytest

from studio.core.errors import StudioError
from studio.core.label_thresholds import (
    FOLDED_KEY,
    combined,
    folded_thresholds,
    set_label_threshold,
    thresholds_in_force,
    tuned_thresholds,
)
from studio.core.tasks.multi import THRESHOLD_GRID, label_curves, multilabel_report
from tests.conftest import train_tiny

LABELS = ("music", "news", "sport")
SETS = ["sport", "news;sport", "music", "news", "music;news", "sport;music"]


def _rows(n: int, offset: int = 0) -> list[tuple[str, str]]:
    out = []
    for i in range(offset, offset + n):
        labels = SETS[i % len(SETS)]
        out.append((f"text {i} about {labels.replace(';', ' and ')}", labels))
    return out


@pytest.fixture(scope="module")
def multi_run(tmp_path_factory, tiny_model_dir):
    """A tiny model trained one epoch on a three-label set with a validation file, exported."""
    tmp = tmp_path_factory.mktemp("label-thresholds")
    validation_rows = _rows(36, offset=60)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STUDIO_HOME", str(tmp / "home"))
        result = train_tiny(
            tmp, tiny_model_dir, _rows(60), validation_rows, task="multi", output_dir=str(tmp / "export")
        )
    return result, tmp / "export", [r[0] for r in validation_rows]


# ---- the curves ------------------------------------------------------------------------------------------------


def test_label_curves_by_hand():
    probabilities = np.array([[0.9, 0.1], [0.6, 0.3], [0.3, 0.7], [0.1, 0.2]])
    truth = np.array([[1, 0], [0, 0], [1, 1], [0, 0]])
    curves = label_curves(("a", "b"), probabilities, truth)
    a = curves["a"]
    assert a["threshold"] == [round(float(t), 4) for t in THRESHOLD_GRID] and len(a["threshold"]) == 49
    at = a["threshold"].index(0.5)
    # At 0.5, "a" is predicted for rows 0 and 1: tp 1, fp 1, fn 1.
    assert (a["precision"][at], a["recall"][at], a["f1"][at]) == (0.5, 0.5, 0.5)
    at = a["threshold"].index(0.3)  # rows 0, 1 and 2: tp 2, fp 1
    assert (a["precision"][at], a["recall"][at], a["f1"][at]) == (round(2 / 3, 4), 1.0, 0.8)
    # Nothing predicted above 0.9: precision 1 by convention, recall and F1 0.
    last = curves["b"]
    assert (last["precision"][-1], last["recall"][-1], last["f1"][-1]) == (1.0, 0.0, 0.0)
    assert label_curves(("a",), np.zeros((0, 1)), np.zeros((0, 1))) == {}


def test_the_curve_grid_is_the_binary_one():
    from studio.core.thresholds import CURVE_GRID

    assert THRESHOLD_GRID.tolist() == CURVE_GRID.tolist()


def test_metrics_json_holds_each_labels_curve_through_its_tuned_threshold(multi_run):
    result, export, _ = multi_run
    metrics = json.loads((export / "metrics.json").read_text(encoding="utf-8"))
    curves = metrics["label_curves"]
    assert list(curves) == list(LABELS) == list(metrics["thresholds"])
    assert result.metrics["label_curves"] == curves
    for name, curve in curves.items():
        assert set(curve) == {"threshold", "precision", "recall", "f1"}
        assert all(len(v) == 49 for v in curve.values())
        assert curve["recall"] == sorted(curve["recall"], reverse=True)
        # The tuned threshold is a point of the curve, and the curve there gives the per-label table's figures.
        at = curve["threshold"].index(round(metrics["thresholds"][name], 4))
        figures = metrics["per_label"][name]
        assert curve["f1"][at] == pytest.approx(figures["f1"], abs=1e-4)
        assert curve["recall"][at] == pytest.approx(figures["recall"], abs=1e-4)
        if figures["precision"] > 0:
            assert curve["precision"][at] == pytest.approx(figures["precision"], abs=1e-4)
        # Tuned for the best F1 of the label (the run has at least 5 validation rows of each label).
        assert curve["f1"][at] == pytest.approx(max(curve["f1"]), abs=1e-4)


def test_report_curves_agree_with_the_report_at_any_threshold():
    rng = np.random.default_rng(3)
    truth = (rng.random((200, 2)) < 0.3).astype(float)
    logits = np.where(truth > 0, rng.normal(0.5, 1, (200, 2)), rng.normal(-1, 1, (200, 2)))
    curves = label_curves(("a", "b"), 1 / (1 + np.exp(-logits)), truth)
    report = multilabel_report(("a", "b"), logits, truth, [0.24, 0.62])
    assert curves["a"]["f1"][curves["a"]["threshold"].index(0.24)] == pytest.approx(
        report["per_label"]["a"]["f1"], abs=1e-4
    )
    assert curves["b"]["recall"][curves["b"]["threshold"].index(0.62)] == pytest.approx(
        report["per_label"]["b"]["recall"], abs=1e-4
    )


# ---- reading the saved thresholds --------------------------------------------------------------------------------


def test_thresholds_in_force_undo_the_fold():
    names = ["a", "b", "c"]
    folded = {"studio_thresholds": {"a": 0.5, "b": 0.5, "c": 0.5}, "studio_tuned_thresholds": {"a": 0.2, "b": 0.7}}
    # An export made before the fold was recorded: the tuned threshold was folded where 0.5 is applied.
    assert folded_thresholds(folded, names) == {"a": 0.2, "b": 0.7, "c": 0.5}
    assert thresholds_in_force(folded, names) == {"a": 0.2, "b": 0.7, "c": 0.5}
    unfolded = {"studio_thresholds": {"a": 0.2, "b": 0.7}, "studio_tuned_thresholds": {"a": 0.2, "b": 0.7}}
    assert folded_thresholds(unfolded, names) == {"a": 0.5, "b": 0.5, "c": 0.5}
    assert thresholds_in_force(unfolded, names) == {"a": 0.2, "b": 0.7, "c": 0.5}
    # A fold of 0.3 and 0.6 applied on the folded score: the threshold on the model's own score combines both.
    both = {FOLDED_KEY: {"a": 0.3}, "studio_thresholds": {"a": 0.6}}
    logit = math.log(0.3 / 0.7) + math.log(0.6 / 0.4)
    assert thresholds_in_force(both, ["a"])["a"] == pytest.approx(1 / (1 + math.exp(-logit)))
    assert combined(0.3, 0.5) == 0.3 and combined(0.5, 0.6) == 0.6
    assert tuned_thresholds(folded, names) == {"a": 0.2, "b": 0.7, "c": 0.5}


# ---- setting one label's threshold -----------------------------------------------------------------------------


def _own_probabilities(predictor, texts, config) -> np.ndarray:
    """The model's own probabilities (the fold undone) from the Predictor's exported-score probabilities."""
    shown = np.array([[p.probabilities[n] for n in LABELS] for p in predictor.predict(texts)])
    folded = folded_thresholds(config, list(LABELS))
    shift = np.array([math.log(folded[n] / (1 - folded[n])) for n in LABELS])
    return 1 / (1 + np.exp(-(np.log(shown / (1 - shown)) + shift)))


def test_a_new_threshold_flips_a_row_between_the_old_and_new_one_everywhere(multi_run, tmp_path, capsys):
    from transformers import pipeline

    from studio.cli import main
    from studio.core.inference import Predictor

    _, export, texts = multi_run
    folder = tmp_path / "model"
    shutil.copytree(export, folder)
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    before_force = thresholds_in_force(config, list(LABELS))
    assert before_force == pytest.approx(tuned_thresholds(config, list(LABELS)))
    predictor = Predictor(folder, device="cpu")
    own = _own_probabilities(predictor, texts, config)
    before = [set(p.chosen) for p in predictor.predict(texts)]
    assert before == [{n for j, n in enumerate(LABELS) if own[i, j] >= before_force[n]} for i in range(len(texts))]

    # The (row, label) nearest its threshold; the new threshold sits on its far side.
    j = 1
    name = LABELS[j]
    i = int(np.argmin(np.abs(own[:, j] - before_force[name])))
    p = float(own[i, j])
    threshold = (p + 1) / 2 if p >= before_force[name] else p / 2
    assert set_label_threshold(folder, name, threshold) == pytest.approx(threshold)

    saved = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    assert saved["studio_thresholds"] == dict.fromkeys(LABELS, 0.5)  # still what the pipeline's 0.5 means
    assert saved[FOLDED_KEY][name] == pytest.approx(threshold)
    assert saved["studio_tuned_thresholds"] == config["studio_tuned_thresholds"]
    assert thresholds_in_force(saved)[name] == pytest.approx(threshold)

    again = Predictor(folder, device="cpu")
    after = [set(p.chosen) for p in again.predict(texts)]
    assert (name in after[i]) != (name in before[i])
    # Only that label moves; the model's own probabilities are unchanged.
    assert np.allclose(_own_probabilities(again, texts, saved), own, atol=1e-5)
    for k in range(len(texts)):
        assert after[k] - {name} == before[k] - {name}
        assert (name in after[k]) == (own[k, j] >= threshold)

    # transformers.pipeline thresholded at 0.5 agrees with the Predictor (away from 0.5, where padding may move a
    # score by a rounding error).
    classify = pipeline("text-classification", model=str(folder), top_k=None, function_to_apply="sigmoid", device="cpu")
    for row, chosen in zip(classify(texts, truncation=True, max_length=16), after, strict=True):
        scores = {d["label"]: d["score"] for d in row}
        clear = {n for n, s in scores.items() if abs(s - 0.5) > 1e-4}
        assert {n for n in clear if scores[n] >= 0.5} == chosen & clear

    # studio predict on the command line decides the same way.
    assert main(["predict", "--model", str(folder), "--text", texts[i], "--device", "cpu"]) == 0
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (name in line.get("labels", [])) == (name in after[i])

    card = (folder / "README.md").read_text(encoding="utf-8")
    tuned = config["studio_tuned_thresholds"][name]
    assert f"Thresholds set by hand: `{name}` **{threshold:.4f}** (tuned {tuned:.4f})" in card
    assert card.count("Thresholds set by hand:") == 1

    # Back to the tuned threshold: the trained bias and decisions return, and the card's line goes.
    set_label_threshold(folder, name, tuned)
    back = Predictor(folder, device="cpu")
    assert [set(p.chosen) for p in back.predict(texts)] == before
    assert "Thresholds set by hand:" not in (folder / "README.md").read_text(encoding="utf-8")


def test_without_weights_to_fold_into_the_config_alone_applies_it(multi_run, tmp_path):
    _, export, _ = multi_run
    folder = tmp_path / "config-only"
    folder.mkdir()
    shutil.copy(export / "config.json", folder / "config.json")
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    fold = folded_thresholds(config, list(LABELS))["sport"]
    set_label_threshold(folder, "sport", 0.8)
    saved = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    assert saved[FOLDED_KEY]["sport"] == pytest.approx(fold)  # the weights (elsewhere) keep their fold
    assert saved["studio_thresholds"]["sport"] != 0.5
    assert thresholds_in_force(saved)["sport"] == pytest.approx(0.8)


def test_bad_requests_get_one_sentence(multi_run, tmp_path, tiny_model_dir):
    _, export, _ = multi_run
    with pytest.raises(StudioError, match="between 0 and 1"):
        set_label_threshold(export, "news", 1.2)
    with pytest.raises(StudioError, match="no label 'weather'; its labels are 'music', 'news', 'sport'"):
        set_label_threshold(export, "weather", 0.4)
    with pytest.raises(StudioError, match="not a multi-label model"):
        set_label_threshold(tiny_model_dir, "LABEL_0", 0.4)
    with pytest.raises(StudioError, match=r"no readable config\.json"):
        set_label_threshold(tmp_path, "news", 0.4)
