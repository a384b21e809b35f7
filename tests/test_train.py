"""The stochastic-LUT trainer: gradients, learning, exact export, a short real run."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from lutrun.errors import ConfigError  # noqa: E402
from lutrun.engines import create_engine  # noqa: E402
from lutrun.modelfile import load_model  # noqa: E402
from lutrun.resources import DEFAULT_MODEL  # noqa: E402
from lutrun.train.config import TrainConfig  # noqa: E402
from lutrun.train.lut import LutLayer, LutNet, _LutFunction  # noqa: E402


def _stochastic_lut(x: torch.Tensor, table: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
    """The stochastic form sum_j W_j prod_m (x_m or 1 - x_m), on real inputs."""
    n, size = table.shape
    k = inputs.shape[1]
    out = torch.zeros(x.shape[0], n, dtype=x.dtype)
    for j in range(size):
        term = table[:, j][None, :].expand(x.shape[0], n)
        for m in range(k):
            xm = x[:, inputs[:, m]]
            term = term * (xm if (j >> m) & 1 else 1 - xm)
        out = out + term
    return out


def test_gradient_equals_stochastic_form_derivative_at_binary_points():
    gen = torch.Generator().manual_seed(0)
    inputs = torch.tensor([[0, 1, 2], [2, 3, 0]])
    table = torch.rand(2, 8, generator=gen, dtype=torch.float64, requires_grad=True)
    x = torch.randint(0, 2, (16, 4), generator=gen).double().requires_grad_(True)
    rows = torch.arange(2)
    torch.autograd.gradcheck(lambda t: _LutFunction.apply(x, t, inputs, rows), (table,))  # exact in W: finite differences
    weights = torch.randn(16, 2, dtype=torch.float64, generator=gen)
    (_LutFunction.apply(x, table, inputs, rows) * weights).sum().backward()
    xs = x.detach().clone().requires_grad_(True)
    ts = table.detach().clone().requires_grad_(True)
    (_stochastic_lut(xs, ts, inputs) * weights).sum().backward()
    torch.testing.assert_close(x.grad, xs.grad)
    torch.testing.assert_close(table.grad, ts.grad)
    eps = 1e-6  # and finite differences of the stochastic form agree with the analytic x-gradient
    bumped = x.detach().clone()
    bumped[3, 1] += eps
    fd = ((_stochastic_lut(bumped, table.detach(), inputs) - _stochastic_lut(x.detach(), table.detach(), inputs)) * weights).sum() / eps
    assert abs(float(fd) - float(x.grad[3, 1])) < 1e-4


@pytest.mark.parametrize("k, target", [(2, lambda b: b[:, 0] ^ b[:, 1]), (6, lambda b: b.sum(1) % 2)])
def test_layer_learns_xor_and_parity(k, target):
    torch.manual_seed(0)
    bits = np.array(list(itertools.product([0, 1], repeat=k)), np.uint8)
    y = torch.from_numpy(target(bits).astype(np.float32))
    layer = LutLayer(np.arange(k, dtype=np.int32)[None, :], torch.Generator().manual_seed(1))
    opt = torch.optim.Adam(layer.parameters(), lr=0.05)
    x = torch.from_numpy(bits).float()
    for _ in range(300):
        loss = torch.nn.functional.binary_cross_entropy(layer(x)[:, 0].clamp(1e-4, 1 - 1e-4), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        layer.clamp_()
    exported = int(layer.export_tables()[0])
    assert [(exported >> j) & 1 for j in range(1 << k)] == y.int().tolist()


def test_export_round_trip_with_binary_tables(rng):
    from lutrun.train.loop import export

    cfg = TrainConfig(layers=[40, 20], wiring=["random"], fan_in=4)
    net = LutNet([(rng.integers(0, 49, (40, 4)).astype(np.int32), None),
                  (rng.integers(0, 40, (20, 4)).astype(np.int32), None)], 0)
    with torch.no_grad():
        for layer in net.layers:
            layer.table.copy_((torch.rand_like(layer.table) > 0.5).float())
    model = export(net, cfg, (7, 7, 1), [str(c) for c in range(10)], {})
    bits = rng.integers(0, 2, (500, 49), dtype=np.uint8)
    float_out = (net(torch.from_numpy(bits).float()) > 0.5).numpy().astype(np.uint8)
    np.testing.assert_array_equal(create_engine("cpu", model).run_bits(bits), float_out)


def test_conv_stage_shares_tables_and_unrolls_exactly(rng):
    from lutrun.train.loop import build_wirings, export

    cfg = TrainConfig(conv=["4x3s2"], layers=[30], wiring=["random"], fan_in=5)
    wirings = build_wirings(cfg, (8, 8, 1))
    inputs, rows = wirings[0]
    assert inputs.shape == (4 * 4 * 4, 5) and rows.tolist() == list(range(4)) * 16
    ys, xs = np.divmod(inputs, 8)
    centre_y, centre_x = np.divmod(np.repeat(np.arange(16), 4), 4)
    assert np.all(np.abs(ys - 2 * centre_y[:, None]) <= 1) and np.all(np.abs(xs - 2 * centre_x[:, None]) <= 1)
    offsets = (ys - 2 * centre_y[:, None]) * 8 + xs - 2 * centre_x[:, None]  # one tap pattern per channel
    interior = [i for i in range(64) if 0 < centre_y[i] < 3 and 0 < centre_x[i] < 3]
    for c in range(4):
        assert len({tuple(offsets[i]) for i in interior if rows[i] == c}) == 1
    net = LutNet(wirings, 0)
    assert net.layers[0].table.shape == (4, 32)  # four shared tables, not 64
    with torch.no_grad():
        for layer in net.layers:
            layer.table.copy_((torch.rand_like(layer.table) > 0.5).float())
    model = export(net, cfg, (8, 8, 1), [str(c) for c in range(10)], {})
    assert [layer.width for layer in model.layers] == [64, 30]
    bits = rng.integers(0, 2, (300, 64), dtype=np.uint8)
    float_out = (net(torch.from_numpy(bits).float()) > 0.5).numpy().astype(np.uint8)
    np.testing.assert_array_equal(create_engine("cpu", model).run_bits(bits), float_out)
    with pytest.raises(ConfigError, match="CHANNELSxKERNEL"):
        TrainConfig(conv=["4by3"])
    for bad in (float("nan"), -0.1, 1.5):  # a config file reaches here without click's range check
        with pytest.raises(ConfigError, match="distill"):
            TrainConfig(distill=bad)


def test_short_training_run_writes_a_valid_model(mnist_dir, tmp_path):
    from lutrun.train.loop import train

    cfg = TrainConfig(data=str(mnist_dir), out=str(tmp_path / "m.lutnet"), layers=[200, 100], wiring=["local", "random"],
                      epochs=1, limit=1000, batch=32, frames=4, train_frames=2)
    report = train(cfg, quiet=True)
    model = load_model(tmp_path / "m.lutnet")
    assert model.n_luts == 300 and model.modulation.frames == 4
    assert model.info["accuracy"]["test"] == report["test_accuracy"] and report["test_accuracy"] > 0.3
    assert model.info["seed"] == cfg.seed and model.info["epochs"] == 1
    again = train(cfg, resume=True, quiet=True)  # the checkpoint says the single epoch is done
    assert again["history"] == report["history"]


def test_learnt_wiring_forward_is_the_chosen_wiring_and_its_gradient_is_dwns():
    gen = torch.Generator().manual_seed(3)
    learnt = LutLayer(np.zeros((4, 3), np.int32), gen, learn_from=10)
    fixed = LutLayer(learnt.wiring(), gen)
    fixed.table.data.copy_(learnt.table.data)
    x = torch.randint(0, 2, (32, 10), generator=gen).float()
    weights = torch.randn(32, 4, generator=gen)
    (learnt(x) * weights).sum().backward()
    picked = x[:, torch.from_numpy(learnt.wiring().reshape(-1)).long()].requires_grad_(True)
    slots = LutLayer(np.arange(12, dtype=np.int32).reshape(4, 3), gen)
    slots.table.data.copy_(learnt.table.data)
    torch.testing.assert_close(slots(picked), fixed(x))  # the forward reads exactly the exported wiring
    (slots(picked) * weights).sum().backward()
    torch.testing.assert_close(learnt.scores.grad, picked.grad.t() @ (2 * x - 1))
    torch.testing.assert_close(learnt.table.grad, slots.table.grad)


def test_learnt_wiring_with_a_teacher_exports_what_it_trained(mnist_dir, tmp_path):
    from lutrun.datasets import load_idx_dataset
    from lutrun.train.loop import build_wirings, train

    cfg = TrainConfig(data=str(mnist_dir), out=str(tmp_path / "m.lutnet"), layers=[120, 60], epochs=2, limit=2000,
                      batch=32, frames=4, train_frames=2, learn_wiring=True, teacher="mnist-3200", distill=0.7)
    report = train(cfg, quiet=True)
    model = load_model(tmp_path / "m.lutnet")
    assert report["test_accuracy"] > 0.3 and model.info["config"]["teacher"] == "mnist-3200"
    assert model.info["teacher"] == {"model": "mnist-3200", "digest": load_model(DEFAULT_MODEL).digest()[:16]}
    assert not np.array_equal(model.layers[0].inputs, build_wirings(cfg, (28, 28, 1))[0][0])
    images = load_idx_dataset(mnist_dir, "test", limit=200).images
    np.testing.assert_array_equal(create_engine("cpu", model).classify(images), create_engine("numpy", model).classify(images))


def test_a_convolutional_teacher_is_trained_first_and_recorded(tmp_path):
    """``--teacher cnn:E``: a CNN learns the (colour, twelve-class) training split, its softened
    probabilities teach the student, and the model records it; the student still runs bit-exactly."""
    from conftest import make_shapes
    from lutrun.datasets import load_dataset
    from lutrun.train.loop import train
    from lutrun.train.teacher import CnnTeacher

    root = make_shapes(tmp_path / "shapes", train=60, val=10, test=10, size=16)
    train_set, val = load_dataset(root, "train"), load_dataset(root, "val")
    teacher = CnnTeacher(12, train_set.images, train_set.labels, 12, 1, 1, torch.device("cpu"),
                         (val.images, val.labels), quiet=True, batch=32)
    assert teacher.val_accuracy > 0.3  # chance is 1/12; 0.51-0.66 over seeds 1-3
    soft = teacher.soft_targets(val.images.reshape(len(val.images), -1), 0.05)
    assert soft.shape == (120, 12) and soft.dtype == np.float32
    np.testing.assert_allclose(soft.sum(1), 1, rtol=1e-5)
    np.testing.assert_array_equal(soft.argmax(1), teacher.predict(val.images))
    assert 0.05 < soft.max(1).mean() < 1  # softened, not one-hot

    cfg = TrainConfig(data=str(root), out=str(tmp_path / "s.lutnet"), layers=[240, 120], learn_wiring=True,
                      teacher="cnn:2", epochs=2, batch=32, frames=4, train_frames=2, device="cpu")
    report = train(cfg, quiet=True)
    model = load_model(tmp_path / "s.lutnet")
    assert model.info["teacher"]["model"] == "cnn:2" and model.info["teacher"]["temperature"] == 1.0
    assert 0 <= model.info["teacher"]["validation_accuracy"] <= 1 and report["test_accuracy"] is not None
    test = load_dataset(root, "test", input_shape=model.input_shape)
    np.testing.assert_array_equal(create_engine("cpu", model).classify(test.images, frame0=0),
                                  create_engine("numpy", model).classify(test.images, frame0=0))



def test_elastic_distortion_warps_each_image_by_its_own_smooth_field_and_keeps_colours_together():
    """``--elastic``: seeded, one field per image, a colour image's channels moved together, nothing at 0."""
    from lutrun.train.augment import distorted

    rng = np.random.default_rng(3)
    grey = np.zeros((6, 28, 28, 1), np.uint8)
    grey[:, 8:20, 12:16] = 255  # a vertical stroke
    warped = distorted(grey, np.random.default_rng(1), 20.0)
    assert warped.shape == grey.shape and warped.dtype == np.uint8
    np.testing.assert_array_equal(warped, distorted(grey, np.random.default_rng(1), 20.0))
    changed = (warped != grey).reshape(6, -1).sum(1)
    assert changed.min() > 0 and len({w.tobytes() for w in warped}) == 6  # every image moved, each its own way
    assert abs(int(warped.astype(int).sum()) - int(grey.astype(int).sum())) < 0.2 * int(grey.astype(int).sum())
    assert (warped[:, :4] == 0).all() and (warped[:, -4:] == 0).all()  # ~1 pixel moves, not a scramble
    colour = np.repeat(rng.integers(0, 256, (4, 16, 16, 1), dtype=np.uint8), 3, axis=3)
    moved = distorted(colour, rng, 30.0)
    assert (moved[..., 0] == moved[..., 1]).all() and (moved[..., 1] == moved[..., 2]).all()
    np.testing.assert_array_equal(distorted(colour, rng, 0.0), colour)


def test_a_run_with_elastic_distortion_records_it_and_runs_bit_exactly(tmp_path):
    from conftest import make_shapes
    from lutrun.datasets import load_dataset
    from lutrun.train.loop import train

    root = make_shapes(tmp_path / "shapes", train=20, val=5, test=5, size=16)
    cfg = TrainConfig(data=str(root), out=str(tmp_path / "e.lutnet"), layers=[240, 120], elastic=20.0, epochs=1,
                      batch=32, frames=4, train_frames=2, device="cpu")
    train(cfg, quiet=True)
    model = load_model(tmp_path / "e.lutnet")
    assert model.info["config"]["elastic"] == 20.0
    test = load_dataset(root, "test", input_shape=model.input_shape)
    np.testing.assert_array_equal(create_engine("cpu", model).classify(test.images, frame0=0),
                                  create_engine("numpy", model).classify(test.images, frame0=0))


# -- the user's own data ---------------------------------------------------------------------


def test_an_image_folder_of_colour_classes_trains_and_runs_bit_exactly(tmp_path):
    """Twelve colour classes from folders: class names kept, the exported model the same on numpy and C."""
    from conftest import make_shapes
    from lutrun.datasets import load_dataset
    from lutrun.train.loop import train

    root = make_shapes(tmp_path / "shapes", train=40, val=5, test=10, size=16)
    cfg = TrainConfig(data=str(root), out=str(tmp_path / "s.lutnet"), layers=[300, 120], wiring=["local", "random"],
                      epochs=2, batch=32, frames=4, train_frames=2, device="cpu")
    report = train(cfg, quiet=True)
    model = load_model(tmp_path / "s.lutnet")
    assert report["classes"] == 12 and report["input_shape"] == [16, 16, 3] and report["device"] == "cpu"
    assert model.class_names == sorted(p.name for p in (root / "train").iterdir())
    assert model.input_shape == (16, 16, 3) and model.n_classes == 12
    assert "validation 60 (its val split), test 120, 12 classes" in model.info["dataset"]
    assert report["test_accuracy"] > 2 / 12  # learning, on two epochs of a tiny net (chance: 1/12)
    test = load_dataset(root, "test", input_shape=model.input_shape)
    numpy_scores = create_engine("numpy", model).classify(test.images, frame0=0)
    np.testing.assert_array_equal(create_engine("cpu", model).classify(test.images, frame0=0), numpy_scores)


def test_npz_and_idx_datasets_of_more_than_ten_classes_train(tmp_path, rng):
    from conftest import write_idx
    from lutrun.train.loop import train

    images = rng.integers(0, 40, (390, 8, 8), dtype=np.uint8)
    labels = np.arange(390) % 13
    images[np.arange(390), labels // 8, labels % 8] = 255  # the class is where the bright pixel is
    names = np.array([f"spot-{c}" for c in range(13)])
    np.savez(tmp_path / "spots.npz", x=images[:300], y=labels[:300], x_test=images[300:], y_test=labels[300:],
             class_names=names)
    write_idx(tmp_path / "idx", "train", images[:300], labels[:300])
    write_idx(tmp_path / "idx", "t10k", images[300:], labels[300:])
    for data, expected_names in ((tmp_path / "spots.npz", list(names)), (tmp_path / "idx", [str(c) for c in range(13)])):
        cfg = TrainConfig(data=str(data), out=str(tmp_path / "m.lutnet"), layers=[130, 130], wiring=["random"], fan_in=4,
                          epochs=8, batch=16, frames=2, train_frames=1, shift=0, lr=0.05)
        report = train(cfg, quiet=True)
        model = load_model(tmp_path / "m.lutnet")
        assert model.class_names == expected_names and model.input_shape == (8, 8, 1)
        assert report["test_accuracy"] > 0.5, report


@pytest.mark.parametrize("args, message", [
    (["--layers", "100,50"], "the last layer's 50 LUTs do not split evenly over 12 classes: make it a multiple of 12, "
                             "e.g. 48 or 60"),
    (["--input-shape", "16,16,2"], "input_shape is H,W,C with C 1 (grey) or 3 (colour)"),
    (["--device", "tpu"], "device must be one of auto, cpu, cuda"),
    (["--data", "MISSING"], "missing: dataset not found"),
    (["--teacher", "mnist-3200", "--layers", "120,60"], "--teacher mnist-3200: its input (28, 28, 1)"),
    (["--teacher", "mnist-9"], "mnist-9: no such model file, and no zoo model of that name"),
    (["--teacher", "cnn:0"], "--teacher cnn:0: a convolutional teacher is cnn:EPOCHS with EPOCHS in 1..100"),
    (["--teacher", "cnn:many"], "--teacher cnn:many: a convolutional teacher is cnn:EPOCHS"),
    (["--teacher", "cnn:101"], "--teacher cnn:101: a convolutional teacher is cnn:EPOCHS with EPOCHS in 1..100"),
    (["--config", "TEACHER5"], "teacher must be a string, got 5"),
    (["--config", "SHIFTFLOAT"], "shift must be an integer, got 1.5"),
    (["--config", "ELASTICTEXT"], "elastic must be a number, got 'strong'"),
    (["--config", "ELASTICBIG"], "elastic (augmentation, pixels) must be in 0..100"),
    (["--learn-wiring", "--conv", "4x3"], "learn_wiring learns the first LUT layer's connections"),
    (["--data", "ONECLASS"], "the training split holds a single class"),
    (["--data", "HUGELABEL"], "label 1000000000000 would make 1000000000001 classes; a model holds at most 65536"),
])
def test_training_mistakes_get_one_line(tmp_path, args, message):
    from conftest import make_shapes, run_cli

    root = make_shapes(tmp_path / "shapes", train=3, val=0, test=0, size=8)
    one = tmp_path / "one"
    np.savez(one.with_suffix(".npz"), x=np.zeros((5, 4, 4), np.uint8), y=np.zeros(5, np.int64))
    huge = tmp_path / "huge.npz"
    np.savez(huge, x=np.zeros((5, 4, 4), np.uint8), y=np.array([0, 1, 0, 1, 10**12]))
    (tmp_path / "teacher5.toml").write_text("teacher = 5\n")
    (tmp_path / "shift.toml").write_text("shift = 1.5\n")
    (tmp_path / "elastic.toml").write_text("elastic = 'strong'\n")
    (tmp_path / "elastic-big.toml").write_text("elastic = 500\n")
    args = [a.replace("TEACHER5", str(tmp_path / "teacher5.toml")).replace("SHIFTFLOAT", str(tmp_path / "shift.toml"))
            .replace("MISSING", str(tmp_path / "missing")).replace("ONECLASS", str(one.with_suffix(".npz")))
            .replace("HUGELABEL", str(huge)).replace("ELASTICTEXT", str(tmp_path / "elastic.toml"))
            .replace("ELASTICBIG", str(tmp_path / "elastic-big.toml")) for a in args]
    answer = run_cli("train", "--data", str(root), "--out", str(tmp_path / "x.lutnet"), "--epochs", "1", *args)
    assert answer.returncode != 0 and message in answer.stderr, answer.stderr
    assert "Traceback" not in answer.stderr and len(answer.stderr.strip().splitlines()) <= 3


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA GPU")
def test_asking_for_cuda_without_a_gpu_says_so(tmp_path):
    from conftest import make_shapes, run_cli

    root = make_shapes(tmp_path / "shapes", train=3, val=0, test=0, size=8)
    answer = run_cli("train", "--data", str(root), "--out", str(tmp_path / "x.lutnet"), "--device", "cuda",
                     "--layers", "24")
    assert answer.returncode != 0 and "--device cuda: this PyTorch" in answer.stderr and "sees no CUDA GPU" in answer.stderr
