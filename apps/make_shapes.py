#!/usr/bin/env python3
"""A small colour dataset in the image-folder layout: coloured shapes on noisy backgrounds.

Twelve classes, ``<colour>-<shape>`` for three colours (red, green, blue) and four shapes
(circle, square, triangle, cross), each drawn with OpenCV at a random size, position and
tilt (up to 17 degrees) on a random near-grey background with noise, so that neither colour nor shape alone
tells the class.  The worked example of docs/training.md trains on it:

    python apps/make_shapes.py --out shapes
    lutrun train --data shapes --input-shape 32,32,3 --layers 1200,600,360 --epochs 30 --out shapes.lutnet
"""
from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import cv2
import numpy as np

COLOURS = {"red": (40, 40, 210), "green": (40, 180, 40), "blue": (210, 60, 30)}  # BGR
SHAPES = ("circle", "square", "triangle", "cross")


def polygon(shape: str, centre: np.ndarray, radius: float, angle: float) -> np.ndarray:
    """The outline of ``shape`` around ``centre`` as int32 points (circles are many-sided)."""
    if shape == "circle":
        corners = np.linspace(0, 2 * math.pi, 24, endpoint=False)
        points = np.stack([np.cos(corners), np.sin(corners)], 1)
    elif shape == "square":
        points = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]]) * 0.75
    elif shape == "triangle":
        corners = np.array([-90, 30, 150]) * math.pi / 180
        points = np.stack([np.cos(corners), np.sin(corners)], 1)
    else:
        a, b = 0.3, 0.95
        points = np.array([[-a, -b], [a, -b], [a, -a], [b, -a], [b, a], [a, a], [a, b], [-a, b], [-a, a], [-b, a],
                           [-b, -a], [-a, -a]])
    rotation = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    return np.round(centre + radius * points @ rotation.T).astype(np.int32)


def draw(rng: np.random.Generator, colour: str, shape: str, size: int) -> np.ndarray:
    """One BGR image: a muted (near-grey) background with a light gradient, a jittered colour, the shape,
    sensor-like noise."""
    image = np.empty((size, size, 3), np.int16)
    image[:] = rng.integers(60, 190) + rng.integers(-15, 16, 3)
    gradient = np.linspace(-20, 20, size)[None, :, None] * rng.uniform(-1, 1)
    image += np.round(gradient).astype(np.int16)
    tone = np.clip(np.array(COLOURS[colour]) + rng.integers(-30, 31, 3), 0, 255)
    radius = rng.uniform(0.25, 0.42) * size
    centre = rng.uniform(radius, size - radius, 2)
    canvas = np.clip(image, 0, 255).astype(np.uint8)
    cv2.fillPoly(canvas, [polygon(shape, centre, radius, rng.uniform(-0.3, 0.3))], tuple(int(t) for t in tone),
                 lineType=cv2.LINE_AA)
    noisy = canvas.astype(np.int16) + rng.normal(0, 6, canvas.shape).round().astype(np.int16)
    return np.clip(noisy, 0, 255).astype(np.uint8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, type=Path, help="Dataset root to create (DIR/train/<class>/...).")
    parser.add_argument("--train", type=int, default=1000, help="Images per class in train/.")
    parser.add_argument("--val", type=int, default=100, help="Images per class in val/ (0: none).")
    parser.add_argument("--test", type=int, default=200, help="Images per class in test/ (0: none).")
    parser.add_argument("--size", type=int, default=32, help="Side of the square images, pixels.")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    counts = {"train": args.train, "val": args.val, "test": args.test}
    for split, count in counts.items():
        for colour in COLOURS:
            for shape in SHAPES:
                if not count:
                    continue
                folder = args.out / split / f"{colour}-{shape}"
                folder.mkdir(parents=True, exist_ok=True)
                for i in range(count):
                    cv2.imwrite(str(folder / f"{i:05d}.png"), draw(rng, colour, shape, args.size))
    print(json.dumps({"out": str(args.out), "classes": len(COLOURS) * len(SHAPES), **counts, "size": args.size}))


if __name__ == "__main__":
    main()
