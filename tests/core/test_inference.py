"""The Predictor on an exported folder, and the CSV it writes."""

import csv

import pytest

from studio.core.config import TrainConfig
from studio.core.errors import StudioError
from studio.core.inference import Predictor, escape_cell
from studio.core.training import run_training
from tests.conftest import write_csv


@pytest.fixture(scope="module")
def exported(tmp_path_factory, tiny_model_dir):
    tmp = tmp_path_factory.mktemp("pred")
    rows = [(f"good fine {i}", "yes") for i in range(10)] + [(f"bad poor {i}", "no") for i in range(10)]
    csv_path = write_csv(tmp / "t.csv", rows)
    out = tmp / "model"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STUDIO_HOME", str(tmp / "home"))
        run_training(
            TrainConfig(
                train_csv=str(csv_path),
                model=str(tiny_model_dir),
                epochs=1,
                batch_size=4,
                max_length=16,
                output_dir=str(out),
            )
        )
    return out


def test_predict_keeps_order_and_gives_probabilities(exported):
    predictor = Predictor(exported, device="cpu")
    texts = ["a much longer text than the others, good fine good fine", "bad", "good"]
    single = [predictor.predict([t])[0] for t in texts]
    batch = predictor.predict(texts, batch_size=2)
    assert predictor.labels == ["no", "yes"]
    for one, many in zip(single, batch, strict=False):
        assert one.label == many.label and abs(one.score - many.score) < 1e-5
        assert abs(sum(many.probabilities.values()) - 1) < 1e-5 and many.score == max(many.probabilities.values())


def test_predict_csv_escapes_formulas_and_is_atomic(exported, tmp_path):
    src = write_csv(tmp_path / "in.csv", [("=1+1", "a"), ("@SUM(A1)", "b"), ("plain", "c")], header=("text", "id"))
    out = tmp_path / "out.csv"
    seen = []
    assert Predictor(exported).predict_csv(src, out, progress=lambda d, t: seen.append((d, t))) == 3
    rows = list(csv.reader(out.open()))
    assert rows[0] == ["text", "id", "predicted_label", "score", "p(no)", "p(yes)"]
    assert [r[0] for r in rows[1:]] == ["'=1+1", "'@SUM(A1)", "plain"]
    assert seen[-1] == (3, 3)
    with pytest.raises(StudioError, match="overwrite the input"):
        Predictor(exported).predict_csv(src, src)
    assert not list(tmp_path.glob(".*.partial"))


def test_escape_cell():
    cells = ("=a", "+1", "-1", "@x", "ok", "", "-1+1", "-2.5", "=1")
    # A plain number (a negative regression value) stays a number; anything else formula-like is made inert.
    assert [escape_cell(v) for v in cells] == ["'=a", "+1", "-1", "'@x", "ok", "", "'-1+1", "-2.5", "'=1"]


def test_batches_cut_by_the_token_budget_give_each_row_its_own_logits(exported, monkeypatch):
    import numpy as np

    import studio.core.features as features

    predictor = Predictor(exported, device="cpu")
    texts = ["good", "bad poor bad poor bad poor bad", "fine", "good fine good fine good", "no", "bad poor"]
    alone = np.concatenate([predictor.runner.sequence_logits([t]) for t in texts])
    shapes = []
    forward = predictor.model.forward
    monkeypatch.setattr(predictor.model, "forward", lambda **kw: shapes.append(kw["input_ids"].shape) or forward(**kw))
    monkeypatch.setattr(features, "CPU_BATCH_TOKENS", 16)
    batched = predictor.runner.sequence_logits(texts)
    assert np.allclose(batched, alone, atol=1e-5)
    assert len(shapes) > 1 and all(rows * width <= 16 or rows == 1 for rows, width in shapes)
