"""Distillation teachers: class probabilities for the images a student sees at each step.

A teacher is either a trained LUT network (a ``.lutnet`` path or zoo name) or ``cnn:EPOCHS``, a
small convolutional network trained first, in the same run, on the student's own training split:
a stronger teacher than any LUT network of the zoo, at no cost to the exported model (which holds
LUTs only).
"""
from __future__ import annotations

import sys
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from lutrun.engines import create_engine
from lutrun.errors import ConfigError
from lutrun.resources import model_path, resolve_model
from lutrun.train.augment import shifted

CNN_PREFIX = "cnn:"
# The convolutional teacher's logits are divided by this before the softmax (Hinton's distillation
# temperature). On the 700-LUT probe (docs/training.md) 1 taught best; 0.5, 2, 4 and 10 worse.
CNN_TEMPERATURE = 1.0


class Teacher(Protocol):
    def soft_targets(self, flat: np.ndarray, temperature: float) -> np.ndarray: ...
    def describe(self) -> dict[str, Any]: ...


def cnn_epochs(spec: str) -> int | None:
    """EPOCHS of a ``cnn:EPOCHS`` spec, None for a LUT model's name or path."""
    if not spec.startswith(CNN_PREFIX):
        return None
    text = spec[len(CNN_PREFIX):]
    if not text.isdigit() or not 1 <= int(text) <= 100:
        raise ConfigError(f"--teacher {spec}: a convolutional teacher is cnn:EPOCHS with EPOCHS in 1..100, e.g. cnn:4")
    return int(text)


def check_teacher(spec: str) -> None:
    """Say a malformed or missing teacher before the dataset is read."""
    if cnn_epochs(spec) is None:
        model_path(spec)


class LutTeacher:
    """A trained model's class probabilities, from its votes as the C engine counts them, on exactly the
    (augmented) images the student sees, at the student's temperature."""

    def __init__(self, spec: str, input_shape: tuple[int, int, int], class_names: list[str]) -> None:
        model = resolve_model(spec)
        if model.input_shape != input_shape or model.class_names != class_names:
            raise ConfigError(f"--teacher {spec}: its input {model.input_shape} and classes {model.class_names} "
                              f"must be the student's ({input_shape}, {class_names})")
        self.spec = spec
        self.engine = create_engine("cpu", model)
        self.digest = model.digest()
        self.votes_per_score = model.modulation.frames * np.bincount(model.output_classes, minlength=model.n_classes)
        self.shape = input_shape

    def soft_targets(self, flat: np.ndarray, temperature: float) -> np.ndarray:
        """Softmax of the teacher's mean vote per class at the student's temperature, float32 [B, classes]."""
        scores = self.engine.classify(flat.reshape(len(flat), *self.shape)) / self.votes_per_score / temperature
        scores = np.exp(scores - scores.max(1, keepdims=True))
        return (scores / scores.sum(1, keepdims=True)).astype(np.float32)

    def describe(self) -> dict[str, Any]:
        return {"model": self.spec, "digest": self.digest[:16]}


class _SmallCnn(nn.Sequential):
    """Two 5×5 convolutions and two dense layers: 99.4 % on MNIST's validation split after 5 epochs (cnn:5)."""

    def __init__(self, channels: int, n_classes: int) -> None:
        super().__init__(
            nn.Conv2d(channels, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 5, padding=2), nn.ReLU(), nn.AdaptiveMaxPool2d(7),
            nn.Flatten(), nn.Linear(64 * 49, 256), nn.ReLU(), nn.Dropout(0.3), nn.Linear(256, n_classes))


class CnnTeacher:
    """A convolutional network trained on the student's training split (same shifts, seeded) before the
    student starts; its softened probabilities teach the LUT network."""

    def __init__(self, epochs: int, images: np.ndarray, labels: np.ndarray, n_classes: int, shift: int, seed: int,
                 device: torch.device, val: tuple[np.ndarray, np.ndarray] | None, quiet: bool, batch: int = 128) -> None:
        self.epochs, self.device, self.shape = epochs, device, tuple(int(d) for d in images.shape[1:])
        torch.manual_seed(seed)
        rng = np.random.default_rng(seed)
        self.net = _SmallCnn(self.shape[2], n_classes).to(device)
        optimizer = torch.optim.Adam(self.net.parameters(), lr=1e-3)
        steps = max(1, len(images) // batch)
        schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, 3e-3, total_steps=epochs * steps)
        for epoch in range(epochs):
            self.net.train()
            order = rng.permutation(len(images))
            for step in tqdm(range(steps), desc=f"teacher cnn {epoch + 1}/{epochs}", disable=quiet, file=sys.stderr):
                idx = order[step * batch:(step + 1) * batch]
                x = shifted(images[idx], rng, shift) if shift else images[idx]
                loss = nn.functional.cross_entropy(self._logits(x), torch.from_numpy(labels[idx]).to(device))
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                schedule.step()
        self.net.eval()
        self.val_accuracy = None if val is None else float(np.mean(self.predict(val[0]) == val[1]))
        if not quiet:
            tqdm.write(f"teacher cnn:{epochs}: validation accuracy {self.val_accuracy}", file=sys.stderr)

    def _logits(self, images: np.ndarray) -> torch.Tensor:
        x = torch.from_numpy(images).to(self.device, torch.float32).permute(0, 3, 1, 2) / 255
        return self.net(x)

    @torch.no_grad()
    def predict(self, images: np.ndarray, batch: int = 1024) -> np.ndarray:
        return np.concatenate([self._logits(images[i:i + batch]).argmax(1).cpu().numpy()
                               for i in range(0, len(images), batch)])

    @torch.no_grad()
    def soft_targets(self, flat: np.ndarray, temperature: float) -> np.ndarray:
        """Softmax of the network's logits at ``CNN_TEMPERATURE`` (the student's own temperature scales
        mean votes in 0..1 and has no meaning for logits)."""
        logits = self._logits(flat.reshape(len(flat), *self.shape)) / CNN_TEMPERATURE
        return torch.softmax(logits, 1).cpu().numpy().astype(np.float32)

    def describe(self) -> dict[str, Any]:
        return {"model": f"{CNN_PREFIX}{self.epochs}", "validation_accuracy": self.val_accuracy,
                "temperature": CNN_TEMPERATURE}
