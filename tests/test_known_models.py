"""Hand-built models whose answers are known, checked against literal expectations."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from lutrun.model import Layer, Model

from conftest import engines


def _model(n_inputs: int, layers: list[tuple[list[list[int]], list[int]]], classes: list[int]) -> Model:
    built = [Layer(np.array(idx, np.int32), np.array(tab, np.uint64)) for idx, tab in layers]
    return Model((1, n_inputs, 1), built, np.array(classes, np.int32), ["a", "b"])


ALL3 = np.array(list(itertools.product([0, 1], repeat=3)), np.uint8)[:, ::-1].copy()  # row j spells j


def test_xor_and_majority_of_three():
    # XOR of 3: ones at addresses with odd popcount: 1,2,4,7 -> 0b10010110 = 0x96.
    # Majority: addresses 3,5,6,7 -> 0b11101000 = 0xE8.
    model = _model(3, [([[0, 1, 2], [0, 1, 2]], [0x96, 0xE8])], [0, 1])
    for engine in engines(model):
        out = engine.run_bits(ALL3)
        assert out[:, 0].tolist() == [0, 1, 1, 0, 1, 0, 0, 1]
        assert out[:, 1].tolist() == [0, 0, 0, 1, 0, 1, 1, 1]


def test_input_zero_is_least_significant_address_bit():
    # A 2-input LUT whose table is 0b0010 is 1 only for input0=1, input1=0.
    model = _model(2, [([[0, 1]], [0b0010])], [0])
    bits = np.array([[0, 0], [1, 0], [0, 1], [1, 1]], np.uint8)
    for engine in engines(model):
        assert engine.run_bits(bits)[:, 0].tolist() == [0, 1, 0, 0]


def test_identity_chain_through_many_layers():
    # Ten layers of 1-input buffers (table 0b10) that also reverse the order each layer.
    n = 5
    layers = [([[n - 1 - j] for j in range(n)], [0b10] * n) for _ in range(10)]
    model = _model(n, layers, [0, 1, -1, 0, 1])
    bits = np.random.default_rng(0).integers(0, 2, (70, n), dtype=np.uint8)
    for engine in engines(model):
        np.testing.assert_array_equal(engine.run_bits(bits), bits)  # even number of reversals


def test_six_input_lut_uses_all_sixty_four_bits():
    table = 0x8000_0000_0000_0001  # AND-NOR: 1 when all inputs are 0 or all are 1
    model = _model(6, [([list(range(6))], [table])], [1])
    bits = np.array([[0] * 6, [1] * 6, [1, 0, 0, 0, 0, 0], [1, 1, 1, 1, 1, 0]], np.uint8)
    for engine in engines(model):
        assert engine.run_bits(bits)[:, 0].tolist() == [1, 1, 0, 0]


@pytest.mark.parametrize("bad", [np.zeros((3, 2), np.uint8), np.full((3, 3), 2, np.uint8), np.zeros((3, 3), np.float32)])
def test_bad_bits_are_refused(bad):
    from lutrun.errors import InputShapeError

    model = _model(3, [([[0, 1, 2]], [0x96])], [0])
    for engine in engines(model):
        with pytest.raises(InputShapeError):
            engine.run_bits(bad)
