"""Accuracy studies: against the number of sub-frames F (``lutrun eval --frames``), and per camera frame in
temporal mode (``lutrun eval --temporal``)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from lutrun.engines import create_engine
from lutrun.engines.base import Engine
from lutrun.errors import BackendUnavailableError
from lutrun.evaluate import evaluate
from lutrun.model import Model
from lutrun.plotting import pyplot
from lutrun.votes import predict


def accuracy_vs_frames(model: Model, images: np.ndarray, labels: np.ndarray, frames: list[int],
                       methods: list[str], engine: str = "cpu") -> dict[str, Any]:
    table: dict[str, dict[int, float]] = {}
    for method in methods:
        table[method] = {}
        for f in frames:
            with create_engine(engine, model, modulation=model.modulation.replace(method=method, frames=f)) as e:
                table[method][f] = evaluate(e, images, labels)["accuracy"]
    return {"model": model.info.get("name", ""), "frames": frames, "accuracy": table, "images": len(labels)}


def temporal_accuracy(engine: Engine, images: np.ndarray, labels: np.ndarray, hold: int,
                      chunk: int = 256) -> dict[str, Any]:
    """Accuracy per camera frame when each image is held still for ``hold`` frames, one stream throughout.

    Frame ``j`` of a hold (0-based) sees ``j`` frames of the new image and the decaying votes of the one
    before: ``by_frame[j]`` is the accuracy there, over all images.  ``after_warm_up`` averages the frames
    from F on, when every sub-frame of the new image has been seen.
    """
    if engine.temporal is None:
        raise BackendUnavailableError("temporal_accuracy needs an engine in temporal mode")
    engine.reset_temporal()
    correct = np.zeros(hold, np.int64)
    for i0 in range(0, len(labels), chunk):
        batch = images[i0:i0 + chunk]
        held = np.repeat(batch, hold, axis=0)
        predictions = predict(engine.classify(held, frame0=i0 * hold)).reshape(len(batch), hold)
        correct += (predictions == labels[i0:i0 + chunk, None]).sum(axis=0)
    by_frame = correct / max(1, len(labels))
    frames = engine.modulation.frames
    return {"mode": "temporal", "temporal_shift": engine.temporal.shift, "frames": frames, "hold": hold,
            "images": int(len(labels)), "by_frame": [round(float(a), 6) for a in by_frame],
            "after_warm_up": float(by_frame[frames:].mean()) if hold > frames else None,
            "last_frame": float(by_frame[-1])}


def plot_study(study: dict[str, Any], path: str | Path) -> None:
    """Save accuracy-vs-F curves as a PNG (needs matplotlib: the ``plot`` extra)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    for method, points in study["accuracy"].items():
        xs = sorted(points)
        ax.plot(xs, [100 * points[x] for x in xs], marker="o", label=method)
    ax.set_xscale("log", base=2)
    ax.set_xticks(study["frames"], [str(f) for f in study["frames"]])
    ax.set_xlabel("sub-frames per frame (F)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(f"{study['model']}: accuracy vs oversampling ({study['images']} images)")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
