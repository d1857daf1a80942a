"""The mislabel finder: planted label flips in real sms_spam rows are ranked near the top; corrected copies."""

from __future__ import annotations

import csv
import random
from pathlib import Path

import pytest

from studio.core.corrections import corrected_name, save_corrected_copy
from studio.core.errors import DataError, StudioError
from studio.core.mislabels import find_mislabels, label_scores, write_candidates
from tests.conftest import write_csv

FLIPS = 20


def _rows(path: Path) -> list[list[str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))


def plant_flips(validation: Path, count: int = FLIPS, seed: int = 7) -> set[int]:
    """Flip the label (ham <-> spam) of `count` validation rows in place; their 1-based data row numbers."""
    rows = _rows(validation)
    header, data = rows[0], rows[1:]
    index = header.index("label")
    flipped = set(random.Random(seed).sample(range(1, len(data) + 1), count))
    for number in flipped:
        row = data[number - 1]
        row[index] = "spam" if row[index] == "ham" else "ham"
    write_csv(validation, [tuple(r) for r in data], header=tuple(header))
    return flipped


def recovered(report, flipped: set[int]) -> int:
    """How many flipped rows are in the top 2 x (number flipped) validation candidates."""
    top = [c for c in report.candidates if c.split == "validation"][: 2 * len(flipped)]
    return sum(1 for c in top if c.row in flipped)


def _train(train: Path, validation: Path | None, model: str, **settings):
    from studio.core.config import TrainConfig
    from studio.core.training import run_training

    config = TrainConfig(
        train_csv=str(train),
        validation_csv=str(validation) if validation else None,
        model=model,
        **{"epochs": 3, "batch_size": 16, "max_length": 48, "learning_rate": 1e-3, **settings},
    )
    return run_training(config)


def test_scores_rank_the_rows_whose_label_disagrees_with_confident_predictions():
    labels = [0, 0, 0, 0, 1, 1, 1, 1, 0, 1] * 3
    probabilities = [[0.95, 0.05] if y == 0 else [0.1, 0.9] for y in labels]
    probabilities[3] = [0.05, 0.95]  # labelled 0, the model is sure of 1
    probabilities[14] = [0.97, 0.03]  # labelled 1, the model is sure of 0
    scores, flagged = label_scores(labels, probabilities)
    ranked = sorted(range(len(labels)), key=lambda i: -scores[i])
    assert set(ranked[:2]) == {3, 14}
    assert flagged[3] and flagged[14]
    assert flagged.sum() == 2


def test_the_finder_writes_ranked_validation_rows_with_their_file_rows(sms_spam_csvs, tiny_model_dir, tmp_path):
    train, validation = sms_spam_csvs
    flipped = plant_flips(validation)
    result = _train(train, validation, str(tiny_model_dir), epochs=2)
    seen: list[float] = []
    report = find_mislabels(result.run_dir, progress=lambda done, message: seen.append(done), device="cpu")
    assert seen[0] == 0.0 and seen[-1] == 1.0 and seen == sorted(seen)
    rows = report.candidates
    assert len(rows) == 150 and {c.split for c in rows} == {"validation"}
    assert [c.score for c in rows] == sorted((c.score for c in rows), reverse=True)
    # Every candidate is the very row of the validation file it names.
    data = _rows(validation)[1:]
    for c in rows:
        assert data[c.row - 1][0] == c.text and data[c.row - 1][1] == c.label
    assert {c.label for c in rows} | {c.suggested for c in rows} <= {"ham", "spam"}
    output = tmp_path / "candidates.csv"
    assert write_candidates(report, output) == 150
    written = _rows(output)
    assert written[0][:6] == ["split", "row", "text", "label", "suggested", "score"]
    assert written[1][:3] == ["validation", str(rows[0].row), rows[0].text]
    # The tiny model learns little (mostly the class balance), so how many flips it finds is no measure of the
    # finder: the built-in model's test below is.
    print(f"tiny model: {recovered(report, flipped)} of {FLIPS} flipped rows in the top {2 * FLIPS}")


def test_a_held_out_split_is_numbered_by_the_training_file_rows(tmp_path, tiny_model_dir):
    rows = [(f"good fine nice {i}", "yes") for i in range(20)] + [(f"bad poor awful {i}", "no") for i in range(20)]
    train = write_csv(tmp_path / "t.csv", rows)
    result = _train(train, None, str(tiny_model_dir), epochs=1, validation_share=0.25)
    report = find_mislabels(result.run_dir, device="cpu")
    assert report.split_from_train and len(report.candidates) == 10
    assert "held out of t.csv" in report.notes[0]
    for c in report.candidates:
        assert rows[c.row - 1] == (c.text, c.label)
        assert Path(c.file).name == "t.csv"


def test_thorough_scores_the_training_rows_by_k_fold_and_cleans_up(tmp_path, tiny_model_dir):
    from studio.core.paths import runs_dir

    rows = [(f"good fine nice {i}", "yes") for i in range(15)] + [(f"bad poor awful {i}", "no") for i in range(15)]
    train = write_csv(tmp_path / "t.csv", rows)
    validation = write_csv(tmp_path / "v.csv", [("good nice", "yes"), ("bad awful", "no")] * 3)
    result = _train(train, validation, str(tiny_model_dir), epochs=1, batch_size=8)
    before = sorted(p.name for p in runs_dir().iterdir())
    messages: list[str] = []
    report = find_mislabels(
        result.run_dir, thorough=True, folds=3, progress=lambda d, m: messages.append(m), device="cpu"
    )
    assert sorted(p.name for p in runs_dir().iterdir()) == before  # the fold runs are gone
    splits = [c.split for c in report.candidates]
    assert splits.count("train") == 30 and splits.count("validation") == 6
    assert sorted(c.row for c in report.candidates if c.split == "train") == list(range(1, 31))
    assert any(m.startswith("Fold 3 of 3") for m in messages)


def test_thorough_stops_when_asked_and_leaves_no_fold_runs(tmp_path, tiny_model_dir):
    import threading

    from studio.core.paths import runs_dir

    rows = [(f"good fine nice {i}", "yes") for i in range(15)] + [(f"bad poor awful {i}", "no") for i in range(15)]
    train = write_csv(tmp_path / "t.csv", rows)
    result = _train(train, None, str(tiny_model_dir), epochs=1, batch_size=8)
    before = sorted(p.name for p in runs_dir().iterdir())
    stop = threading.Event()

    def progress(done: float, message: str) -> None:
        if "step" in message:
            stop.set()

    with pytest.raises(StudioError, match="stopped"):
        find_mislabels(result.run_dir, thorough=True, folds=3, progress=progress, stop=stop, device="cpu")
    assert sorted(p.name for p in runs_dir().iterdir()) == before


def test_other_tasks_and_unfinished_runs_get_a_sentence(tmp_path):
    from studio.core import runs
    from studio.core.config import TrainConfig

    run_dir = runs.create_run_dir(TrainConfig(train_csv=str(tmp_path / "x.csv"), task="regression"))
    with pytest.raises(StudioError, match="no trained model yet"):
        find_mislabels(run_dir)
    (run_dir / runs.MODEL).mkdir()
    (run_dir / runs.MODEL / "config.json").write_text("{}")
    with pytest.raises(StudioError, match="multi-label classification; this run is regression"):
        find_mislabels(run_dir)


def test_multi_label_rows_are_scored_as_label_sets(tmp_path, tiny_model_dir):
    rows = [(f"sun and rain {i}", "sunny|rainy") for i in range(6)]
    rows += [(f"bright sun {i}", "sunny") for i in range(10)] + [(f"wet rain {i}", "rainy") for i in range(10)]
    rows += [(f"cold snow {i}", "snowy") for i in range(10)]
    train = write_csv(tmp_path / "weather.csv", rows)
    result = _train(train, None, str(tiny_model_dir), epochs=1, validation_share=0.3, task="multi")
    report = find_mislabels(result.run_dir, device="cpu")
    assert len(report.candidates) == 11
    for c in report.candidates:
        assert rows[c.row - 1][0] == c.text
        assert set(rows[c.row - 1][1].split("|")) == set(c.label.split("|"))
        assert set(c.suggested.split("|")) - {""} <= {"sunny", "rainy", "snowy"}
    assert [c.score for c in report.candidates] == sorted((c.score for c in report.candidates), reverse=True)
    thorough = find_mislabels(result.run_dir, thorough=True, folds=2, device="cpu")
    assert sorted(c.row for c in thorough.candidates) == list(range(1, 37))
    assert sum(c.split == "train" for c in thorough.candidates) == 25
    first = report.candidates[0]
    copy = save_corrected_copy(train, "label", relabel={first.row: "snowy|sunny"})
    assert _rows(copy.path)[first.row][1] == "snowy|sunny"


def test_a_corrected_copy_relabels_and_drops_rows_beside_the_original(tmp_path):
    original = write_csv(tmp_path / "data.csv", [("one", "a"), ("two, with a comma", "b"), ("three", "a")])
    before = original.read_bytes()
    copy = save_corrected_copy(original, "label", relabel={1: "b"}, drop={2})
    assert copy.path == tmp_path / "data-corrected.csv"
    assert (copy.relabelled, copy.dropped, copy.rows) == (1, 1, 2)
    assert _rows(copy.path) == [["text", "label"], ["one", "b"], ["three", "a"]]
    assert original.read_bytes() == before
    second = save_corrected_copy(original, "label", drop=[3])
    assert second.path == tmp_path / "data-corrected-2.csv"
    assert corrected_name(original) == tmp_path / "data-corrected-3.csv"
    assert not list(tmp_path.glob(".*partial"))


def test_a_corrected_copy_refuses_bad_rows_and_never_overwrites(tmp_path):
    original = write_csv(tmp_path / "data.csv", [("one", "a"), ("two", "b")])
    with pytest.raises(DataError, match="rows 1 to 2, not 5"):
        save_corrected_copy(original, "label", relabel={5: "a"})
    with pytest.raises(DataError, match="empty label"):
        save_corrected_copy(original, "label", relabel={1: " "})
    with pytest.raises(DataError, match="both relabelled and dropped"):
        save_corrected_copy(original, "label", relabel={1: "b"}, drop={1})
    with pytest.raises(DataError, match="no column 'class'"):
        save_corrected_copy(original, "class", drop={1})
    with pytest.raises(DataError, match="overwrite"):
        save_corrected_copy(original, "label", drop={1}, dest=original)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.csv"]


@pytest.mark.slow
def test_the_builtin_model_finds_half_the_planted_flips_in_its_top_twice_as_many(sms_spam_csvs):
    from studio.core.modeling import BUILTIN_MODEL

    train, validation = sms_spam_csvs
    flipped = plant_flips(validation)
    result = _train(train, validation, BUILTIN_MODEL, epochs=1, learning_rate=5e-5, max_length=64)
    report = find_mislabels(result.run_dir, device="cpu")
    found = recovered(report, flipped)
    print(f"built-in model: {found} of {FLIPS} flipped rows in the top {2 * FLIPS}")
    assert found >= FLIPS // 2


def test_pair_rows_keep_their_second_text(tmp_path, tiny_model_dir):
    rows = [(f"a cat sits {i}", f"a cat is sitting {i}", "same") for i in range(10)]
    rows += [(f"a dog runs {i}", f"the sky is green {i}", "different") for i in range(10)]
    train = write_csv(tmp_path / "pairs.csv", rows, header=("text", "text_pair", "label"))
    result = _train(train, None, str(tiny_model_dir), epochs=1, validation_share=0.3, task="pair")
    report = find_mislabels(result.run_dir, device="cpu")
    assert len(report.candidates) == 6
    for c in report.candidates:
        assert rows[c.row - 1] == (c.text, c.pair, c.label)
    output = tmp_path / "candidates.csv"
    write_candidates(report, output)
    header, first = _rows(output)[:2]
    assert header == ["split", "row", "text", "label", "suggested", "score", "flagged", "file", "text_pair"]
    assert first[-1] == report.candidates[0].pair


def test_a_multi_label_fold_is_undone_before_scoring():
    import math
    from types import SimpleNamespace

    from studio.core.mislabels import _folded_shift

    folded = SimpleNamespace(studio_tuned_thresholds={"a": 0.2, "b": 0.5}, studio_thresholds={"a": 0.5, "b": 0.5})
    # No head to fold into: the config applies the tuned thresholds itself.
    unfolded = SimpleNamespace(studio_tuned_thresholds={"a": 0.2}, studio_thresholds={"a": 0.2})

    assert _folded_shift(folded, ["a", "b"]).tolist() == pytest.approx([math.log(0.2 / 0.8), 0.0])
    assert _folded_shift(unfolded, ["a"]).tolist() == [0.0]


def test_a_corrected_copy_is_known_by_its_name_beside_the_source(tmp_path):
    from studio.core.corrections import corrected_name, is_corrected_copy

    source = tmp_path / "train.csv"
    first = corrected_name(source)
    first.write_text("text,label\n", encoding="utf-8")
    second = corrected_name(source)
    assert (first.name, second.name) == ("train-corrected.csv", "train-corrected-2.csv")
    assert is_corrected_copy(first, source) and is_corrected_copy(second, source)
    assert not is_corrected_copy(tmp_path / "train-corrected-final.csv", source)
    assert not is_corrected_copy(tmp_path / "validation-corrected.csv", source)
    assert not is_corrected_copy(tmp_path / "other" / "train-corrected.csv", source)
