"""Accuracy against the number of sub-frames F for each modulation method (``lutrun eval --frames``)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from lutrun.engines import create_engine
from lutrun.errors import BackendUnavailableError
from lutrun.evaluate import evaluate
from lutrun.model import Model


def accuracy_vs_frames(model: Model, images: np.ndarray, labels: np.ndarray, frames: list[int],
                       methods: list[str], engine: str = "cpu") -> dict[str, Any]:
    table: dict[str, dict[int, float]] = {}
    for method in methods:
        table[method] = {}
        for f in frames:
            with create_engine(engine, model, modulation=model.modulation.replace(method=method, frames=f)) as e:
                table[method][f] = evaluate(e, images, labels)["accuracy"]
    return {"model": model.info.get("name", ""), "frames": frames, "accuracy": table, "images": len(labels)}


def plot_study(study: dict[str, Any], path: str | Path) -> None:
    """Save accuracy-vs-F curves as a PNG (needs matplotlib: the ``plot`` extra)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise BackendUnavailableError("plotting needs matplotlib: pip install 'lutrun[plot]'") from None
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
