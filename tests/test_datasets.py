"""Datasets in their three layouts (idx, image folder, .npz): what they read, and the one clear line for each defect."""
from __future__ import annotations

import numpy as np
import pytest

from conftest import digit_folders, make_shapes, run_cli, write_idx
from lutrun.datasets import dataset_splits, load_dataset
from lutrun.errors import DataError
from lutrun.opencv import cv2
from lutrun.preprocess import Preprocessor


def test_an_image_folder_reads_as_torchvisions_imagefolder_does(tmp_path):
    root = make_shapes(tmp_path / "shapes")
    assert dataset_splits(root) == ("train", "val", "test")
    train = load_dataset(root, "train")
    names = sorted(p.name for p in (root / "train").iterdir())
    assert train.class_names == tuple(names) and len(names) == 12
    assert train.images.shape == (72, 24, 24, 3) and train.images.dtype == np.uint8
    assert np.unique(train.labels, return_counts=True)[1].tolist() == [6] * 12  # (bincount refuses int64 on 32-bit ARM)
    assert train.labels[:12].tolist() == list(range(12))  # classes in turn: any first N is balanced
    first = cv2.imread(str(root / "train" / names[1] / "00000.png"))
    np.testing.assert_array_equal(train.images[1], first)
    grey = load_dataset(root, "test", input_shape=(16, 16, 1))  # through the pipeline's own preprocessing
    expected = Preprocessor((16, 16, 1))(cv2.imread(str(root / "test" / names[0] / "00000.png"), cv2.IMREAD_UNCHANGED))
    assert grey.images.shape == (36, 16, 16, 1)
    np.testing.assert_array_equal(grey.images[0], expected)
    assert load_dataset(root, "val", limit=5).labels.tolist() == [0, 1, 2, 3, 4]


def test_val_and_test_folders_may_hold_fewer_classes_but_no_new_one(tmp_path):
    root = make_shapes(tmp_path / "shapes", train=2, val=1, test=1)
    for folder in list((root / "test").iterdir())[:11]:
        for f in folder.iterdir():
            f.unlink()
        folder.rmdir()
    test = load_dataset(root, "test")
    kept = next((root / "test").iterdir()).name
    assert test.labels.tolist() == [test.class_names.index(kept)]
    (root / "val" / "purple-star").mkdir()
    cv2.imwrite(str(root / "val" / "purple-star" / "a.png"), np.zeros((24, 24, 3), np.uint8))
    with pytest.raises(DataError, match="'purple-star' is not one of the training classes"):
        load_dataset(root, "val")


@pytest.mark.parametrize("defect, message", [
    ("empty", "class 'red-cross' has no image files"),
    ("unreadable", "red-cross/00000.png: not a readable 8-bit image"),
    ("mixed", r"images differ in size or colour .*00001.png: 30x30x3\); give the model's --input-shape"),
    ("single", "1 class folder(s); a classifier needs at least two"),
])
def test_a_broken_image_folder_is_named_in_one_line(tmp_path, defect, message):
    root = make_shapes(tmp_path / "shapes", train=2, val=0, test=0)
    folder = root / "train" / "red-cross"
    if defect == "empty":
        for f in folder.iterdir():
            f.unlink()
    elif defect == "unreadable":
        (folder / "00000.png").write_bytes(b"not a png")
    elif defect == "mixed":
        cv2.imwrite(str(folder / "00001.png"), np.zeros((30, 30, 3), np.uint8))
    else:
        for other in (root / "train").iterdir():
            if other != folder:
                for f in other.iterdir():
                    f.unlink()
                other.rmdir()
    with pytest.raises(DataError, match=message if defect != "single" else message.replace("(", r"\(").replace(")", r"\)")):
        load_dataset(root, "train")
    if defect == "mixed":  # with a shape given, every image is resized to it
        assert load_dataset(root, "train", input_shape=(24, 24, 3)).images.shape == (24, 24, 24, 3)


def test_an_npz_dataset_grey_or_colour_with_names_and_splits(tmp_path, rng):
    path = tmp_path / "set.npz"
    x = rng.integers(0, 256, (40, 10, 12, 3), dtype=np.uint8)
    y = np.arange(40) % 13
    np.savez(path, x=x, y=y, x_test=x[:7, :, :, 0], y_test=y[:7], class_names=np.array([f"c{i}" for i in range(13)]))
    assert dataset_splits(path) == ("train", "test")
    train = load_dataset(path, "train", limit=30)
    assert train.images.shape == (30, 10, 12, 3) and train.class_names[12] == "c12"
    np.testing.assert_array_equal(train.images, x[:30])
    test = load_dataset(path, "test")
    assert test.images.shape == (7, 10, 12, 1)
    resized = load_dataset(path, "train", input_shape=(5, 6, 1))
    np.testing.assert_array_equal(resized.images[3], Preprocessor((5, 6, 1))(x[3]))


@pytest.mark.parametrize("arrays, message", [
    ({"x": np.zeros((3, 4, 4), np.uint8)}, "no 'y' array"),
    ({"x": np.zeros((3, 4, 4), np.float32), "y": np.zeros(3, np.int64)}, "x must be uint8"),
    ({"x": np.zeros((3, 4, 4), np.uint8), "y": np.zeros(2, np.int64)}, "does not give one label per image"),
    ({"x": np.zeros((3, 4, 4), np.uint8), "y": np.array([0, -1, 2])}, "label -1 at index 1 is not non-negative"),
    ({"x": np.zeros((3, 4, 4), np.uint8), "y": np.array([0, 1, 5]), "class_names": np.array(["a", "b"])},
     r"label 5 at index 2 is not in 0..1"),
    ({"x": np.array([None, 1], dtype=object), "y": np.zeros(2, np.int64)}, "holds Python objects"),
])
def test_a_broken_npz_is_named_in_one_line(tmp_path, arrays, message):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(DataError, match=message):
        load_dataset(path, "train")


def test_an_npz_declaring_more_than_the_limit_is_refused_before_reading(tmp_path, monkeypatch):
    path = tmp_path / "big.npz"
    np.savez_compressed(path, x=np.zeros((1000, 28, 28), np.uint8), y=np.zeros(1000, np.int64))
    monkeypatch.setenv("LUTRUN_MAX_DATASET_BYTES", "100000")
    with pytest.raises(DataError, match="over the 100000 byte limit"):
        load_dataset(path, "train")


def test_idx_files_with_more_than_ten_classes(tmp_path, rng):
    images = rng.integers(0, 256, (60, 8, 8), dtype=np.uint8)
    write_idx(tmp_path / "idx", "train", images, np.arange(60) % 15)
    assert dataset_splits(tmp_path / "idx") == ("train",)
    data = load_dataset(tmp_path / "idx", "train")
    assert data.labels.max() == 14 and data.class_names == () and data.images.shape == (60, 8, 8, 1)
    with pytest.raises(DataError, match="train and test splits only; the trainer's validation images are the first"):
        load_dataset(tmp_path / "idx", "val")


def test_what_is_not_a_dataset_says_what_would_be(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="not a dataset: expected a directory of idx files, an image-folder tree"):
        load_dataset(tmp_path / "empty", "train")
    with pytest.raises(DataError, match="dataset not found"):
        load_dataset(tmp_path / "nothing", "train")
    (tmp_path / "fake.npz").write_bytes(b"PK no zip")
    with pytest.raises(DataError, match="not an .npz archive"):
        load_dataset(tmp_path / "fake.npz", "train")


def test_eval_reads_an_image_folder_by_class_name(tmp_path):
    """The shipped digit model on digit folders without a "0", matched by name."""
    import json

    root = tmp_path / "digits"
    labels = digit_folders(root)
    answer = run_cli("eval", "--data", str(root))
    assert answer.returncode == 0, answer.stderr
    report = json.loads(answer.stdout)
    assert report["frames"] == int((labels > 0).sum()) and report["accuracy"] > 0.95
    for split in ("train", "test"):
        (root / split / "7").rename(root / split / "seven")
    answer = run_cli("eval", "--data", str(root))
    assert answer.returncode != 0 and "class(es) seven are not among the model's (0, 1, 2" in answer.stderr
    assert "Traceback" not in answer.stderr
