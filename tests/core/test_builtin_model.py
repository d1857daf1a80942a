"""A real run of the built-in all-MiniLM-L6-v2 on a few hundred rows of sms_spam: it must learn spam."""

import pytest

from studio.core.config import TrainConfig
from studio.core.inference import Predictor
from studio.core.training import run_training


@pytest.mark.slow
def test_builtin_model_learns_sms_spam(sms_spam_csvs, tmp_path):
    train, validation = sms_spam_csvs
    out = tmp_path / "model"
    result = run_training(
        TrainConfig(
            train_csv=str(train),
            validation_csv=str(validation),
            epochs=2,
            batch_size=16,
            learning_rate=1e-4,
            max_length=64,
            output_dir=str(out),
        )
    )
    assert result.metrics["f1"] > 0.85, result.metrics
    predictor = Predictor(out)
    spam, ham = predictor.predict(
        [
            "WINNER!! You have won a free cash prize of 1000 pounds. Call 09061701461 now to claim, T&C apply",
            "Ok, see you at home later for dinner",
        ]
    )
    assert (spam.label, ham.label) == ("spam", "ham")
