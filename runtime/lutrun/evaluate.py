"""Accuracy of an engine on labelled frames: overall, per class, and the confusion matrix."""
from __future__ import annotations

from typing import Any

import numpy as np

from lutrun.datasets import check_labels
from lutrun.engines.base import Engine
from lutrun.votes import predict


def evaluate(engine: Engine, images: np.ndarray, labels: np.ndarray, batch: int = 4096) -> dict[str, Any]:
    """Classify ``images`` (frame counter = index) and compare with ``labels``."""
    n_classes = engine.model.n_classes
    check_labels(labels, n_classes, "evaluation")
    predictions = np.concatenate([predict(engine.classify(images[i:i + batch], frame0=i))
                                  for i in range(0, len(images), batch)]) if len(images) else np.zeros(0, np.int64)
    confusion = np.zeros((n_classes, n_classes), np.int64)
    np.add.at(confusion, (labels, predictions), 1)
    support = confusion.sum(axis=1)
    per_class = np.divide(np.diag(confusion), support, out=np.zeros(n_classes), where=support > 0)
    return {
        "frames": int(len(labels)),
        "accuracy": float(np.mean(predictions == labels)) if len(labels) else 0.0,
        "per_class_accuracy": {engine.model.class_names[c]: round(float(per_class[c]), 6) for c in range(n_classes)},
        "confusion": confusion.tolist(),
    }
