"""The model zoo: trained models shipped in the package under a name, a ladder of sizes.

A zoo name works wherever a model path does (``lutrun eval mnist-700``,
``lutrun.resolve_model("mnist-700")``); a file of that name in the working folder wins.
What ``lutrun models`` says of each model (LUTs, F, accuracy, the training command) is
read from the model file itself, where the trainer recorded it, so the listing cannot
drift from the files.
"""
from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

ZOO = Path(__file__).resolve().parent / "data" / "zoo"
DEFAULT_NAME = "mnist-3200"


def names() -> list[str]:
    """The shipped models' names, smallest first (names end in their LUT count)."""
    def size(name: str) -> tuple[int, str]:
        tail = name.rpartition("-")[2]
        return (int(tail) if tail.isdigit() else 1 << 30, name)

    return sorted((p.stem for p in ZOO.glob("*.lutnet")), key=size)


def zoo_path(name: str) -> Path | None:
    """The file of zoo model ``name``, or None when the zoo holds no such model."""
    path = ZOO / f"{name}.lutnet"
    return path if name in names() else None


def recorded_command(info: dict[str, Any]) -> str:
    """The training command stored in a model, spelt as a user types it (``lutrun train ...``)."""
    command = str(info.get("command", ""))
    words = shlex.split(command) if command else []
    if words and Path(words[0]).name == "lutrun":
        words[0] = "lutrun"
    return shlex.join(words)


def entries() -> list[dict[str, Any]]:
    """One row per zoo model: what a user choosing a size needs."""
    from lutrun.modelfile import load_model

    rows = []
    for name in names():
        model = load_model(ZOO / f"{name}.lutnet")
        accuracy = model.info.get("accuracy", {})
        rows.append({
            "name": name,
            "default": name == DEFAULT_NAME,
            "luts": model.n_luts,
            "live_luts": model.live_luts(),
            "layers": [layer.width for layer in model.layers],
            "frames": model.modulation.frames,
            "method": model.modulation.method,
            "test_accuracy": accuracy.get("test"),
            "validation_accuracy": accuracy.get("validation"),
            "dataset": model.info.get("dataset", ""),
            "train_seconds": model.info.get("train_seconds"),
            "command": recorded_command(model.info),
            "digest": model.digest()[:16],
        })
    return rows


# Published LUT networks on MNIST for the accuracy-vs-LUTs plot: (label, LUT6, test accuracy).  DWN
# (Bacellar et al., "Differentiable Weightless Neural Networks", ICML 2024), its FPGA table: LUTs after
# place and route, class popcount included, thermometer encoder excluded (docs/models.md says what ours count).
PUBLISHED = [("DWN", 692, 0.971), ("DWN", 1413, 0.979), ("DWN", 4082, 0.983)]


def plot_zoo(rows: list[dict[str, Any]], path: str | Path) -> None:
    """Test accuracy against LUT6 count: the zoo beside the published points (needs lutrun[plot])."""
    from lutrun.plotting import pyplot

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot([p[1] for p in PUBLISHED], [p[2] for p in PUBLISHED], marker="s", linestyle="--", color="grey",
            label="DWN (published)")
    ours = sorted((row for row in rows if row["test_accuracy"] is not None), key=lambda r: r["luts"])
    # The line joins the ladder (no model as small and more accurate); the others are points beside it.
    front = [r for r in ours if not any(o["luts"] <= r["luts"] and o["test_accuracy"] > r["test_accuracy"] for o in ours)]
    (line,) = ax.plot([r["luts"] for r in front], [r["test_accuracy"] for r in front], marker="o", label="lutrun zoo")
    beside = [r for r in ours if r not in front]
    if beside:
        ax.plot([r["luts"] for r in beside], [r["test_accuracy"] for r in beside], marker="o", linestyle="none",
                markerfacecolor="none", color=line.get_color(), label="lutrun zoo, off the ladder")
    for row in ours:
        ax.annotate(row["name"], (row["luts"], row["test_accuracy"]), textcoords="offset points", xytext=(4, -10),
                    fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("LUT6 count")
    ax.set_ylabel("MNIST test accuracy")
    ax.yaxis.set_major_formatter(lambda value, _pos: f"{100 * value:.2f} %")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
