"""The training loop: Adam with a cosine schedule, seeded, checkpointed, resumable, exported.

The reported accuracy is the exported model's, run by the C engine with the
real modulator at the model's F, never the float network's.
"""
from __future__ import annotations

import datetime
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from lutrun.datasets import LabelledImages, dataset_splits, load_dataset
from lutrun.engines import create_engine
from lutrun.errors import BackendUnavailableError, ConfigError, DataError
from lutrun.evaluate import evaluate
from lutrun.model import MAX_CLASSES, Layer, Model, Modulation, round_robin_classes
from lutrun.modelfile import save_model
from lutrun.modulate import modulate
from lutrun.train.augment import distorted, shifted
from lutrun.train.config import TrainConfig
from lutrun.train.lut import LutNet
from lutrun.train.teacher import CnnTeacher, LutTeacher, Teacher, check_teacher, cnn_epochs
from lutrun.train.wiring import conv_wiring, local_image_wiring, local_wiring, parse_conv, random_wiring



def pick_device(name: str) -> torch.device:
    """``auto``: the first CUDA GPU if PyTorch sees one, else the CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise BackendUnavailableError(f"--device {name}: this PyTorch ({torch.__version__}) sees no CUDA GPU; "
                                      "use --device cpu (or auto)")
    try:
        return torch.device(name)
    except RuntimeError as exc:
        raise ConfigError(f"--device {name}: {exc}") from None


@dataclass(frozen=True)
class Splits:
    train: LabelledImages
    val: LabelledImages | None
    test: LabelledImages | None
    held_out: bool  # val is the first training images, not the dataset's own split

    def class_names(self) -> list[str]:
        """The training split's names, or "0".."n-1" when its labels name nothing (idx files, a bare .npz)."""
        if self.train.class_names:
            names = list(self.train.class_names)
        else:
            top = max(int(s.labels.max()) for s in (self.train, self.val, self.test) if s is not None and len(s.labels))
            if top >= MAX_CLASSES:
                raise DataError(f"{self.train.source}: label {top} would make {top + 1} classes; a model holds at most "
                                f"{MAX_CLASSES} (labels are class indices 0..n-1)")
            names = [str(c) for c in range(top + 1)]
        if len(names) > MAX_CLASSES:
            raise DataError(f"{self.train.source}: {len(names)} classes; a model holds at most {MAX_CLASSES}")
        return names

    def describe(self, data: str) -> str:
        def n(split: LabelledImages | None) -> int:
            return len(split.labels) if split is not None else 0
        origin = " (held out of train)" if self.held_out else " (its val split)" if self.val is not None else ""
        return (f"{Path(data).name}: train {n(self.train)}, validation {n(self.val)}{origin}, test {n(self.test)}, "
                f"{len(self.class_names())} classes")


def load_splits(cfg: TrainConfig) -> Splits:
    """Training, validation and test images: the dataset's val split if it has one, else the first
    ``cfg.validation`` training images (at most a tenth) held out; test only if present."""
    present = dataset_splits(cfg.data)
    if "train" not in present:
        raise DataError(f"{cfg.data}: no training split (found: {', '.join(present) or 'none'})")
    train = load_dataset(cfg.data, "train", cfg.limit, tuple(cfg.input_shape) or None)  # type: ignore[arg-type]
    shape = tuple(int(d) for d in train.images.shape[1:])
    if len(np.unique(train.labels)) < 2:
        raise DataError(f"{cfg.data}: the training split holds a single class; a classifier needs at least two")
    test = load_dataset(cfg.data, "test", None, shape) if "test" in present else None  # type: ignore[arg-type]
    if "val" in present:
        return Splits(train, load_dataset(cfg.data, "val", None, shape), test, False)  # type: ignore[arg-type]
    n_val = min(cfg.validation, len(train.labels) // 10)
    if not n_val:
        return Splits(train, None, test, False)
    held = LabelledImages(train.images[:n_val], train.labels[:n_val], train.source, train.class_names)
    kept = LabelledImages(train.images[n_val:], train.labels[n_val:], train.source, train.class_names)
    return Splits(kept, held, test, True)


def check_output_width(cfg: TrainConfig, n_classes: int) -> None:
    """Output o votes for class o mod n_classes: every class gets the same number of votes."""
    width = cfg.layers[-1]
    if width % n_classes:
        lower, upper = width - width % n_classes, width - width % n_classes + n_classes
        raise ConfigError(f"the last layer's {width} LUTs do not split evenly over {n_classes} classes: "
                          f"make it a multiple of {n_classes}, e.g. {max(lower, n_classes)} or {upper} (--layers)")


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


def make_teacher(cfg: TrainConfig, splits: Splits, input_shape: tuple[int, int, int], class_names: list[str],
                 device: torch.device, quiet: bool) -> Teacher | None:
    """The run's teacher, if any; a convolutional one is trained here, before the student."""
    if not cfg.teacher:
        return None
    epochs = cnn_epochs(cfg.teacher)
    if epochs is None:
        return LutTeacher(cfg.teacher, input_shape, class_names)
    val = (splits.val.images, splits.val.labels) if splits.val is not None else None
    return CnnTeacher(epochs, splits.train.images, splits.train.labels, len(class_names), cfg.shift, cfg.seed, device,
                      val, quiet)


def export(net: LutNet, cfg: TrainConfig, input_shape: tuple[int, int, int], class_names: list[str],
           info: dict[str, Any]) -> Model:
    layers = [Layer(layer.wiring(), layer.export_tables()) for layer in net.layers]
    classes = round_robin_classes(layers[-1].width, len(class_names))
    modulation = Modulation(cfg.method, cfg.frames, cfg.seed % 2**32, (0, 255))
    return Model(input_shape, layers, classes, list(class_names), modulation, info)


def augmented(images: np.ndarray, rng: np.random.Generator, cfg: TrainConfig) -> np.ndarray:
    """A training batch as the network sees it: shifted (one offset a batch), then each image distorted; as
    it was where neither is asked for (no random draw, so recipes without them reproduce)."""
    if cfg.shift:
        images = shifted(images, rng, cfg.shift)
    return distorted(images, rng, cfg.elastic) if cfg.elastic else images


def train(cfg: TrainConfig, resume: bool = False, quiet: bool = False) -> dict[str, Any]:
    """Train, export ``cfg.out`` and return the run's report (accuracies measured with the C engine)."""
    started = time.time()
    device = pick_device(cfg.device)
    if cfg.teacher:
        check_teacher(cfg.teacher)  # a missing teacher is said before the dataset is read
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    splits = load_splits(cfg)
    train_set, val_set, test_set = splits.train, splits.val, splits.test
    class_names = splits.class_names()
    n_classes = len(class_names)
    check_output_width(cfg, n_classes)
    images, labels = train_set.images, train_set.labels
    input_shape = (int(images.shape[1]), int(images.shape[2]), int(images.shape[3]))
    modulation = Modulation(cfg.method, cfg.frames, cfg.seed % 2**32, (0, 255))

    n_pixels = int(np.prod(input_shape)) if cfg.learn_wiring else 0
    net = LutNet(build_wirings(cfg, input_shape), cfg.seed, n_pixels).to(device)
    classes = torch.from_numpy(round_robin_classes(cfg.layers[-1], n_classes)).long()
    group = torch.nn.functional.one_hot(classes, n_classes).float()
    group = (group / group.sum(0, keepdim=True)).to(device)
    teacher = make_teacher(cfg, splits, input_shape, class_names, device, quiet)
    steps_per_epoch = max(1, len(images) // cfg.batch)
    optimizer = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, cfg.epochs * steps_per_epoch)
    checkpoint = Path(cfg.checkpoint or cfg.out + ".ckpt")
    history: list[dict[str, Any]] = []
    first_epoch = 0
    if resume and checkpoint.exists():
        state = torch.load(checkpoint, weights_only=False, map_location=device)
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
            batch = augmented(images[idx], rng, cfg).reshape(len(idx), -1)
            bits = modulate(batch, modulation, frame0=int(rng.integers(0, 2**31)))
            bits = bits.reshape(len(idx), cfg.frames, -1)[:, subframes].reshape(len(idx) * cfg.train_frames, -1)
            y = net(torch.from_numpy(bits).to(device, torch.float32))
            logits = (y.view(len(idx), cfg.train_frames, -1).mean(1) @ group) / cfg.temperature
            target = torch.from_numpy(labels[idx]).to(device)
            loss = torch.nn.functional.cross_entropy(logits, target)
            if teacher is not None:
                soft = torch.from_numpy(teacher.soft_targets(batch, cfg.temperature)).to(device)
                distilled = torch.nn.functional.cross_entropy(logits, soft)
                loss = (1 - cfg.distill) * loss + cfg.distill * distilled
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            net.clamp_()
            total_loss += loss.item() * len(idx)
            total_correct += int((logits.argmax(1) == target).sum())
            seen += len(idx)
            bar.set_postfix(loss=f"{total_loss / seen:.4f}", acc=f"{total_correct / seen:.4f}")
        model = export(net, cfg, input_shape, class_names, {})
        val = evaluate(create_engine("cpu", model), val_set.images, val_set.labels)["accuracy"] if val_set else None
        history.append({"epoch": epoch + 1, "loss": total_loss / seen, "train_acc": total_correct / seen,
                        "val_acc_exported": val, "seconds": time.time() - started})
        if not quiet:
            tqdm.write(f"epoch {epoch + 1}: loss {total_loss / seen:.4f}, exported validation accuracy {val}", file=sys.stderr)
        torch.save({"net": net.state_dict(), "optimizer": optimizer.state_dict(), "schedule": schedule.state_dict(),
                    "rng": rng.bit_generator.state, "epoch": epoch + 1, "history": history, "config": cfg.to_json()},
                   checkpoint)

    info = {
        "name": cfg.name,
        "dataset": splits.describe(cfg.data),
        "device": str(device),
        "command": shlex.join(sys.argv) if sys.argv else "",
        "seed": cfg.seed,
        "epochs": cfg.epochs,
        "config": cfg.to_json(),
        **({"teacher": teacher.describe()} if teacher else {}),
        "train_seconds": round(time.time() - started, 1),
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "history": history,
    }
    model = export(net, cfg, input_shape, class_names, info)
    test = evaluate(create_engine("cpu", model), test_set.images, test_set.labels)["accuracy"] if test_set else None
    model.info["accuracy"] = {"test": test, "engine": "cpu", "frames": cfg.frames,
                              "validation": history[-1]["val_acc_exported"] if history else None}
    save_model(model, cfg.out)
    return {"out": cfg.out, "luts": model.n_luts, "classes": n_classes, "input_shape": list(input_shape),
            "device": str(device), "test_accuracy": test, "train_seconds": info["train_seconds"], "history": history}
