"""Out-of-fold probabilities for a run's training rows: k models, each trained on the other folds (thorough mode)."""

from __future__ import annotations

import csv
import shutil
import tempfile
from pathlib import Path

import numpy as np

from studio.core.errors import DataError
from studio.core.mislabels import TRAIN, _check_stop, _ids, _label_text, _predict, _Split


def cross_validated(
    config, train: _Split, validation: _Split, labels, folds: int, fold_epochs, report, stop, device, separator
) -> np.ndarray:
    """Out-of-fold probabilities for the training rows: one model per fold, trained on the others."""
    import warnings

    from sklearn.model_selection import KFold, StratifiedKFold

    from studio.core.events import Finished, Progress
    from studio.core.training import run_training

    n = len(train.texts)
    if n < folds:
        raise DataError(f"The training data has {n} rows, too few for {folds} folds; choose fewer folds.")
    multi = bool(train.labels) and isinstance(train.labels[0], list)
    # Multi-label rows are stratified on their first label.
    y = np.asarray([(_ids(row) or [-1])[0] for row in train.labels]) + 1
    with warnings.catch_warnings():
        # A class with fewer rows than folds is spread as well as it can be; scikit-learn warns about it.
        warnings.simplefilter("ignore", UserWarning)
        if np.bincount(y)[np.bincount(y) > 0].min() >= 2:
            parts = list(StratifiedKFold(folds, shuffle=True, random_state=config.seed).split(np.zeros(n), y))
        else:
            parts = list(KFold(folds, shuffle=True, random_state=config.seed).split(np.zeros(n)))
    out = np.zeros((n, len(labels)), dtype=np.float64)
    folder = Path(tempfile.mkdtemp(prefix="studio-folds-"))
    stem = Path(config.train_csv).stem[:30]
    share = 0.94 / folds  # of the progress bar, per fold, between the validation predictions and the ranking
    try:
        for k, (fit_rows, held_rows) in enumerate(parts):
            _check_stop(stop)
            base = 0.03 + k * share
            report(base, f"Fold {k + 1} of {folds}: training on {len(fit_rows):,} rows")
            known = {label for i in fit_rows for label in _ids(train.labels[i])}
            fit_csv = _write_rows(
                folder / f"{stem}-fold{k + 1}of{folds}.csv", config, train, fit_rows, labels, separator
            )
            # Validation rows need a label the fold's training rows have, or the fold's training refuses them.
            keep = [i for i, label in enumerate(validation.labels) if set(_ids(label)) & known]
            if multi:
                keep = [i for i in keep if set(_ids(validation.labels[i])) <= known]
            check_csv = _write_rows(
                folder / f"{stem}-fold{k + 1}-validation.csv", config, validation, keep, labels, separator
            )

            held_count = len(held_rows)

            def reporter(event, base=base, k=k, held=held_count) -> None:
                if isinstance(event, Progress) and event.total_steps:
                    done = base + share * 0.9 * event.step / event.total_steps
                    report(done, f"Fold {k + 1} of {folds}: step {event.step} of {event.total_steps}")
                elif isinstance(event, Finished):
                    report(base + share * 0.9, f"Fold {k + 1} of {folds}: predicting {held:,} rows")

            fold_config = config.with_changes(
                train_csv=str(fit_csv),
                validation_csv=str(check_csv),
                output_dir=None,
                epochs=config.epochs if fold_epochs is None else fold_epochs,
                # A device chosen for the search (--device) trains the folds too.
                device=config.device if device == "auto" else device,
            )
            result = None
            try:
                result = run_training(fold_config, reporter, stop)
                _check_stop(stop)
                held = _Split(
                    TRAIN,
                    [train.texts[i] for i in held_rows],
                    None if train.pairs is None else [train.pairs[i] for i in held_rows],
                    [train.labels[i] for i in held_rows],
                    [train.lines[i] for i in held_rows],
                    train.file,
                )
                out[held_rows] = _predict(result.model_dir, held, labels, device, multi)
            finally:
                # The fold models are scaffolding: they never join the user's runs list for long.
                if result is not None:
                    shutil.rmtree(result.run_dir, ignore_errors=True)
                else:
                    _remove_fold_runs(fit_csv.stem)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return out


def _remove_fold_runs(stem: str) -> None:
    """Delete the run folders a stopped or failed fold left behind (named after its training file)."""
    from studio.core.paths import runs_dir

    for path in runs_dir().glob(f"*-{stem[:40]}*"):
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)


def _write_rows(
    path: Path, config, rows: _Split, indices: list[int], labels: tuple[str, ...], separator: str = ";"
) -> Path:
    text, label, pair = config.text_column or "text", config.label_column or "label", config.pair_column or None
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([text, pair, label] if pair else [text, label])
        for i in indices:
            cell = _label_text(rows.labels[i], labels, separator)
            cells = [rows.texts[i], rows.pairs[i], cell] if pair and rows.pairs else None
            writer.writerow(cells or [rows.texts[i], cell])
    return path
