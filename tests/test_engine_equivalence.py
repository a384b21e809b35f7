"""The C engine equals the numpy reference bit for bit on random models."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lutrun.engines import create_engine
from lutrun.bits import pack_bits, unpack_bits
from lutrun.model import random_model

from conftest import engines


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    k=st.integers(1, 6),
    widths=st.lists(st.integers(1, 37), min_size=1, max_size=4),
    batch=st.sampled_from([1, 63, 64, 65, 511, 512, 513, 1000]),
    seed=st.integers(0, 2**32 - 1),
    shape=st.sampled_from([(5, 3, 1), (7, 7, 2), (1, 13, 1)]),
)
def test_cpu_equals_reference(k, widths, batch, seed, shape):
    model = random_model(shape, tuple(widths), fan_in=k, n_classes=3, seed=seed)
    bits = np.random.default_rng(seed).integers(0, 2, (batch, model.n_inputs), dtype=np.uint8)
    reference, cpu = engines(model)
    np.testing.assert_array_equal(cpu.run_bits(bits), reference.run_bits(bits))


@pytest.mark.parametrize("batch", [1, 63, 64, 65, 1000, 4099])
def test_mixed_fan_in_deep_model(batch, rng):
    model = random_model((28, 28, 1), (301, 77, 33, 10), fan_in=(6, 3, 5, 2), seed=batch)
    bits = rng.integers(0, 2, (batch, model.n_inputs), dtype=np.uint8)
    reference, cpu = engines(model)
    np.testing.assert_array_equal(cpu.run_bits(bits), reference.run_bits(bits))


def test_threads_split_gives_same_packed_outputs(rng):
    model = random_model((8, 8, 1), (200, 50, 10), seed=5)
    packed = rng.integers(0, 2**64, (model.n_inputs, 37), dtype=np.uint64)
    one = create_engine("cpu", model)
    with create_engine("cpu", model, threads=2) as many:
        np.testing.assert_array_equal(many.run_packed(packed), one.run_packed(packed))


@pytest.mark.parametrize("samples", [1, 63, 64, 65, 130])
def test_pack_twins_agree(samples, rng):
    model = random_model((3, 7, 1), (4,), seed=0)
    _, cpu = engines(model)
    bits = rng.integers(0, 2, (samples, 21), dtype=np.uint8)
    packed = pack_bits(bits)
    np.testing.assert_array_equal(cpu.pack(bits), packed)
    np.testing.assert_array_equal(unpack_bits(packed, samples), bits)
    np.testing.assert_array_equal(cpu.unpack(packed, samples), bits)
    s = samples - 1  # documented layout: feature j of sample s is bit s % 64 of word s // 64 of row j
    assert int(packed[3, s // 64]) >> (s % 64) & 1 == bits[s, 3]
