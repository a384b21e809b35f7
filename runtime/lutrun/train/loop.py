"""The training loop: Adam with a cosine schedule, seeded, checkpointed, resumable, exported.

The reported accuracy is the exported model's, run by the C engine with the
real modulator at the model's F, never the float network's.
"""
from __future__ import annotations

import datetime
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from lutrun.datasets import load_idx_dataset
from lutrun.engines import create_engine
from lutrun.evaluate import evaluate
from lutrun.model import Layer, Model, Modulation, round_robin_classes
from lutrun.modelfile import save_model
from lutrun.modulate import modulate
from lutrun.train.config import TrainConfig
from lutrun.train.lut import LutNet
from lutrun.train.wiring import conv_wiring, local_image_wiring, local_wiring, parse_conv, random_wiring

N_CLASSES = 10


def build_wirings(cfg: TrainConfig, input_shape: tuple[int, int, int]) -> list[tuple[np.ndarray, np.ndarray | None]]:
    """Per layer: inputs [width, k] and shared-table rows (convolution stages) or None."""
    rng = np.random.default_rng(cfg.seed)
    out: list[tuple[np.ndarray, np.ndarray | None]] = []
    grid = input_shape
    for spec in cfg.conv:
        inputs, rows, grid = conv_wiring(rng, cfg.fan_in, grid, *parse_conv(spec))
        out.append((inputs, rows))
    prev = grid[0] * grid[1] * grid[2]
    for i, (n, kind) in enumerate(zip(cfg.layers, cfg.wiring)):
        if kind == "random":
            out.append((random_wiring(rng, n, cfg.fan_in, prev), None))
        elif i == 0:
            out.append((local_image_wiring(rng, n, cfg.fan_in, grid, cfg.window), None))
        else:
            out.append((local_wiring(rng, n, cfg.fan_in, prev), None))
        prev = n
    return out


def shifted(images: np.ndarray, rng: np.random.Generator, max_shift: int) -> np.ndarray:
    """Augmentation: the batch moved by one random offset of up to ``max_shift`` pixels, zero-filled."""
    dy, dx = rng.integers(-max_shift, max_shift + 1, 2)
    out = np.zeros_like(images)
    h, w = images.shape[1:3]
    out[:, max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = images[:, max(-dy, 0):h - max(dy, 0), max(-dx, 0):w - max(dx, 0)]
    return out


def export(net: LutNet, cfg: TrainConfig, input_shape: tuple[int, int, int], info: dict[str, Any]) -> Model:
    layers = [Layer(layer.inputs.cpu().numpy().astype(np.int32), layer.export_tables()) for layer in net.layers]
    classes = round_robin_classes(layers[-1].width, N_CLASSES)
    modulation = Modulation(cfg.method, cfg.frames, cfg.seed % 2**32, (0, 255))
    return Model(input_shape, layers, classes, [str(c) for c in range(N_CLASSES)], modulation, info)


def train(cfg: TrainConfig, resume: bool = False, quiet: bool = False) -> dict[str, Any]:
    """Train, export ``cfg.out`` and return the run's report (accuracies measured with the C engine)."""
    started = time.time()
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    train_set = load_idx_dataset(cfg.data, "train", cfg.limit)
    n_val = min(cfg.validation, len(train_set.labels) // 10)
    images, labels = train_set.images[n_val:], train_set.labels[n_val:]
    val_images, val_labels = train_set.images[:n_val], train_set.labels[:n_val]
    input_shape = tuple(int(d) for d in images.shape[1:])
    frames_flat = images.reshape(len(images), -1)
    modulation = Modulation(cfg.method, cfg.frames, cfg.seed % 2**32, (0, 255))

    net = LutNet(build_wirings(cfg, input_shape), cfg.seed)
    classes = torch.from_numpy(round_robin_classes(net.layers[-1].table.shape[0], N_CLASSES)).long()
    group = torch.nn.functional.one_hot(classes, N_CLASSES).float()
    group /= group.sum(0, keepdim=True)
    steps_per_epoch = max(1, len(images) // cfg.batch)
    optimizer = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, cfg.epochs * steps_per_epoch)
    checkpoint = Path(cfg.checkpoint or cfg.out + ".ckpt")
    history: list[dict[str, Any]] = []
    first_epoch = 0
    if resume and checkpoint.exists():
        state = torch.load(checkpoint, weights_only=False)
        net.load_state_dict(state["net"])
        optimizer.load_state_dict(state["optimizer"])
        schedule.load_state_dict(state["schedule"])
        rng.bit_generator.state = state["rng"]
        first_epoch, history = state["epoch"], state["history"]

    for epoch in range(first_epoch, cfg.epochs):
        order = rng.permutation(len(images))
        bar = tqdm(range(steps_per_epoch), desc=f"epoch {epoch + 1}/{cfg.epochs}", disable=quiet, file=sys.stderr)
        total_loss = total_correct = seen = 0
        for step in bar:
            idx = order[step * cfg.batch:(step + 1) * cfg.batch]
            subframes = np.sort(rng.choice(cfg.frames, cfg.train_frames, replace=False))
            batch = shifted(images[idx], rng, cfg.shift).reshape(len(idx), -1) if cfg.shift else frames_flat[idx]
            bits = modulate(batch, modulation, frame0=int(rng.integers(0, 2**31)))
            bits = bits.reshape(len(idx), cfg.frames, -1)[:, subframes].reshape(len(idx) * cfg.train_frames, -1)
            y = net(torch.from_numpy(bits).float())
            logits = (y.view(len(idx), cfg.train_frames, -1).mean(1) @ group) / cfg.temperature
            target = torch.from_numpy(labels[idx])
            loss = torch.nn.functional.cross_entropy(logits, target)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            net.clamp_()
            total_loss += loss.item() * len(idx)
            total_correct += int((logits.argmax(1) == target).sum())
            seen += len(idx)
            bar.set_postfix(loss=f"{total_loss / seen:.4f}", acc=f"{total_correct / seen:.4f}")
        model = export(net, cfg, input_shape, {})
        val = evaluate(create_engine("cpu", model), val_images, val_labels)["accuracy"] if n_val else None
        history.append({"epoch": epoch + 1, "loss": total_loss / seen, "train_acc": total_correct / seen,
                        "val_acc_exported": val, "seconds": time.time() - started})
        if not quiet:
            tqdm.write(f"epoch {epoch + 1}: loss {total_loss / seen:.4f}, exported validation accuracy {val}", file=sys.stderr)
        torch.save({"net": net.state_dict(), "optimizer": optimizer.state_dict(), "schedule": schedule.state_dict(),
                    "rng": rng.bit_generator.state, "epoch": epoch + 1, "history": history, "config": cfg.to_json()},
                   checkpoint)

    test_set = load_idx_dataset(cfg.data, "test")
    info = {
        "name": cfg.name,
        "dataset": f"MNIST idx ({Path(cfg.data).name}): train {len(labels)}, validation {n_val}",
        "command": shlex.join(sys.argv) if sys.argv else "",
        "seed": cfg.seed,
        "epochs": cfg.epochs,
        "config": cfg.to_json(),
        "train_seconds": round(time.time() - started, 1),
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "history": history,
    }
    model = export(net, cfg, input_shape, info)
    result = evaluate(create_engine("cpu", model), test_set.images, test_set.labels)
    model.info["accuracy"] = {"test": result["accuracy"], "engine": "cpu", "frames": cfg.frames,
                              "validation": history[-1]["val_acc_exported"] if history else None}
    save_model(model, cfg.out)
    return {"out": cfg.out, "luts": model.n_luts, "test_accuracy": result["accuracy"],
            "train_seconds": info["train_seconds"], "history": history}
