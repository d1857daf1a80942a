"""Classification figures shared by the tasks (scikit-learn): accuracy, macro P/R/F1, per class, confusion."""

from __future__ import annotations

import numpy as np


def classification_report(labels: tuple[str, ...], y_true, y_pred) -> dict:
    """Every figure the evaluate page and metrics.json show, as plain Python numbers."""
    from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

    ids = list(range(len(labels)))
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    precision, recall, f1, _ = precision_recall_fscore_support(
        y_true, y_pred, labels=ids, average="macro", zero_division=0
    )
    p_c, r_c, f_c, s_c = precision_recall_fscore_support(y_true, y_pred, labels=ids, average=None, zero_division=0)
    per_class = {
        name: {"precision": float(p_c[i]), "recall": float(r_c[i]), "f1": float(f_c[i]), "support": int(s_c[i])}
        for i, name in enumerate(labels)
    }
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "precision": float(precision),
        "recall": float(recall),
        "f1": float(f1),
        "per_class": per_class,
        "confusion": confusion_matrix(y_true, y_pred, labels=ids).tolist(),
    }


def cross_entropy(logits, y_true) -> float:
    """Mean cross-entropy of softmax(logits) against the true ids, computed stably."""
    logits = np.asarray(logits, dtype=np.float64)
    shifted = logits - logits.max(axis=-1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    return float(-log_probs[np.arange(len(y_true)), np.asarray(y_true)].mean())
