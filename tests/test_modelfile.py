"""The .lutnet file: exact round trip, and a ModelFormatError naming the field for every defect."""
from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest

from lutrun.errors import ModelFormatError
from lutrun.model import Modulation, random_model
from lutrun.modelfile import load_model, save_model


@pytest.fixture
def model():
    return random_model((4, 5, 1), (9, 7, 4), fan_in=(6, 3, 2), n_classes=3, seed=3,
                        modulation=Modulation("stochastic", 7, 99, (10, 200)))


def _arrays(model) -> dict:
    meta = {"format": "lutnet", "version": 1, "input_shape": list(model.input_shape), "classes": model.n_classes,
            "class_names": model.class_names, "modulation": model.modulation.to_json(), "name": "x"}
    arrays = {"meta": np.array(json.dumps(meta))}
    for i, layer in enumerate(model.layers):
        arrays[f"layer{i}_inputs"] = layer.inputs
        arrays[f"layer{i}_tables"] = layer.tables
    arrays["output_classes"] = model.output_classes
    return arrays


def _write(path, members: dict) -> None:
    with zipfile.ZipFile(path, "w") as zf:
        for name, value in members.items():
            if isinstance(value, np.ndarray):
                buf = io.BytesIO()
                np.lib.format.write_array(buf, value, allow_pickle=True)
                value = buf.getvalue()
            zf.writestr(name if name.endswith(".npy") else name + ".npy", value)


def _meta_with(model, **changes) -> dict:
    arrays = _arrays(model)
    meta = json.loads(str(arrays["meta"][()]))
    for key, value in changes.items():
        if value is _DROP:
            meta.pop(key)
        else:
            meta[key] = value
    arrays["meta"] = np.array(json.dumps(meta))
    return arrays


_DROP = object()


def test_round_trip_is_exact(tmp_path, model):
    model.info.update({"dataset": "mnist", "accuracy": {"test": 0.5}})
    path = save_model(model, tmp_path / "m.lutnet")
    loaded = load_model(path)
    assert loaded.digest() == model.digest()
    assert loaded.modulation == model.modulation
    assert loaded.info == model.info
    for a, b in zip(loaded.layers, model.layers):
        np.testing.assert_array_equal(a.inputs, b.inputs)
        np.testing.assert_array_equal(a.tables, b.tables)
    save_model(loaded, tmp_path / "again.lutnet")
    assert load_model(tmp_path / "again.lutnet").digest() == model.digest()


def test_file_is_a_plain_npz_without_pickles(tmp_path, model):
    path = save_model(model, tmp_path / "m.lutnet")
    with np.load(path, allow_pickle=False) as npz:
        assert json.loads(str(npz["meta"]))["format"] == "lutnet"
        assert npz["layer0_tables"].dtype == np.uint64


def _bad_cases(model):
    a = _arrays(model)
    yield "meta.format", _meta_with(model, format="other")
    yield "meta.version", _meta_with(model, version=2)
    yield "meta.input_shape", _meta_with(model, input_shape=[4, 5])
    yield "meta.input_shape", _meta_with(model, input_shape=_DROP)
    yield "meta.classes", _meta_with(model, classes=4)
    yield "meta.class_names", _meta_with(model, class_names="abc")
    yield "meta.class_names", _meta_with(model, class_names=["a", "b", 3])
    yield "meta.modulation", _meta_with(model, modulation={"method": "thermometer"})
    yield "meta.modulation.method", _meta_with(model, modulation={**model.modulation.to_json(), "method": "pwm"})
    yield "meta.modulation.frames", _meta_with(model, modulation={**model.modulation.to_json(), "frames": 0})
    yield "meta.modulation.frames", _meta_with(model, modulation={**model.modulation.to_json(), "frames": 2.5})
    yield "meta.modulation.seed", _meta_with(model, modulation={**model.modulation.to_json(), "seed": -1})
    yield "meta.modulation.range", _meta_with(model, modulation={**model.modulation.to_json(), "range": [200, 10]})
    yield "meta", {**a, "meta": np.array("{not json")}
    yield "meta", {**a, "meta": np.array("[1, 2]")}
    yield "meta", {**a, "meta": np.array([1, 2])}
    yield "meta", {k: v for k, v in a.items() if k != "meta"}
    yield "layer0_inputs", {**a, "layer0_inputs": a["layer0_inputs"].astype(np.int64)}
    yield "layer0_inputs", {**a, "layer0_inputs": a["layer0_inputs"].ravel()}
    yield "layer0_inputs", {**a, "layer0_inputs": np.zeros((9, 7), np.int32)}
    yield "layer0_inputs", {**a, "layer0_inputs": np.full((9, 6), -1, np.int32)}
    yield "layer0_inputs", {**a, "layer0_inputs": np.full((9, 6), 20, np.int32)}
    yield "layer1_inputs", {**a, "layer1_inputs": np.full((7, 3), 9, np.int32)}
    yield "layer0_tables", {**a, "layer0_tables": a["layer0_tables"].astype(np.int64)}
    yield "layer0_tables", {**a, "layer0_tables": a["layer0_tables"][:5]}
    yield "layer2_tables", {**a, "layer2_tables": np.full(4, 0x10, np.uint64)}  # 2-input LUT, bit 4 set
    yield "layer1_tables", {k: v for k, v in a.items() if k != "layer1_tables"}
    yield "layer3_inputs", {**a, "layer3_inputs": a["layer2_inputs"], "layer3_tables": a["layer2_tables"],
                            **{k: v for k, v in a.items() if not k.startswith("layer2")}}
    yield "output_classes", {k: v for k, v in a.items() if k != "output_classes"}
    yield "output_classes", {**a, "output_classes": np.zeros(3, np.int32)}
    yield "output_classes", {**a, "output_classes": np.full(4, 3, np.int32)}
    yield "output_classes", {**a, "output_classes": np.full(4, -2, np.int32)}
    yield "output_classes", {**a, "output_classes": np.array([0, 1, None, 2], object)}  # a pickle
    yield "extra", {**a, "extra": np.zeros(1)}


@pytest.mark.parametrize("case", range(34))
def test_each_defect_names_its_field(tmp_path, model, case):
    field, members = list(_bad_cases(model))[case]
    path = tmp_path / "bad.lutnet"
    _write(path, members)
    with pytest.raises(ModelFormatError) as err:
        load_model(path)
    assert err.value.field.startswith(field.split(".npy")[0]) or field in str(err.value), str(err.value)


def test_case_count_matches():
    assert len(list(_bad_cases(random_model((4, 5, 1), (9, 7, 4), fan_in=(6, 3, 2), n_classes=3)))) == 34


def test_not_a_zip_missing_and_truncated(tmp_path, model):
    (tmp_path / "text.lutnet").write_text("hello")
    with pytest.raises(ModelFormatError, match="file"):
        load_model(tmp_path / "text.lutnet")
    with pytest.raises(ModelFormatError, match="does not exist"):
        load_model(tmp_path / "none.lutnet")
    data = save_model(model, tmp_path / "m.lutnet").read_bytes()
    (tmp_path / "cut.lutnet").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFormatError):
        load_model(tmp_path / "cut.lutnet")


def test_corrupt_member_bytes_fail_the_crc(tmp_path, model):
    path = tmp_path / "m.lutnet"
    _write(path, _arrays(model))  # stored, not deflated: flip a data byte in place
    data = bytearray(path.read_bytes())
    offset = data.find(np.ascontiguousarray(model.layers[0].tables).tobytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ModelFormatError, match="layer0_tables"):
        load_model(path)


def test_huge_declared_shape_is_refused_without_allocating(tmp_path, model):
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<u8", "fortran_order": False, "shape": (1 << 40,)})
    members = {**_arrays(model), "layer0_tables": header.getvalue() + b"\0" * 64}
    _write(tmp_path / "huge.lutnet", members)
    with pytest.raises(ModelFormatError, match="layer0_tables"):
        load_model(tmp_path / "huge.lutnet")


# -- hostile files (issue: hardening), each run as a user would where the failure was a crash or a hang --

def test_meta_integers_too_long_for_python_are_a_format_error(tmp_path, model):
    arrays = _arrays(model)
    arrays["meta"] = np.array(str(arrays["meta"][()])[:-1] + ', "big": ' + "9" * 5000 + "}")
    _write(tmp_path / "m.lutnet", arrays)
    with pytest.raises(ModelFormatError, match="meta: is not valid JSON"):
        load_model(tmp_path / "m.lutnet")


@pytest.mark.parametrize("version", [True, 1.0, "1"])
def test_version_must_be_the_integer_one(tmp_path, model, version):
    _write(tmp_path / "m.lutnet", _meta_with(model, version=version))
    with pytest.raises(ModelFormatError, match="meta.version"):
        load_model(tmp_path / "m.lutnet")


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_numbers_in_meta_are_refused(tmp_path, model, constant):
    arrays = _arrays(model)
    arrays["meta"] = np.array(str(arrays["meta"][()])[:-1] + f', "accuracy": {constant}}}')
    _write(tmp_path / "m.lutnet", arrays)
    with pytest.raises(ModelFormatError, match=f"{constant.lstrip('-')} is not a JSON number"):
        load_model(tmp_path / "m.lutnet")


def test_encrypted_members_are_refused(tmp_path, model):
    path = tmp_path / "m.lutnet"
    save_model(model, path)
    data = bytearray(path.read_bytes())
    # Set the "encrypted" flag (bit 0 of the general purpose flags) in every local and central header.
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        start = 0
        while (start := data.find(signature, start)) >= 0:
            data[start + offset] |= 1
            start += 4
    path.write_bytes(bytes(data))
    with pytest.raises(ModelFormatError, match="encrypted"):
        load_model(path)


def test_total_declared_size_is_bounded_before_anything_is_read(tmp_path, model):
    """Three members each under the per-member limit but 1.5 GB together: refused from the directory alone."""
    path = tmp_path / "big.lutnet"
    save_model(model, path)
    data = bytearray(path.read_bytes())
    start, patched = 0, 0
    while (start := data.find(b"PK\x01\x02", start)) >= 0 and patched < 3:  # central directory entries
        data[start + 24:start + 28] = (500 << 20).to_bytes(4, "little")  # uncompressed size
        start += 4
        patched += 1
    path.write_bytes(bytes(data))
    with pytest.raises(ModelFormatError, match="over the .* byte limit .*LUTRUN_MAX_MODEL_BYTES"):
        load_model(path)


@pytest.mark.parametrize("target", ["/dev/zero", "/dev/null", "directory"])
def test_only_regular_files_are_opened(tmp_path, target):
    path = tmp_path if target == "directory" else target
    with pytest.raises(ModelFormatError, match="is not a regular file"):
        load_model(path)


def test_models_load_from_bytes_as_an_upload_brings_them(tmp_path, model):
    data = save_model(model, tmp_path / "m.lutnet").read_bytes()
    loaded = load_model(data)
    assert loaded.digest() == model.digest()
    with pytest.raises(ModelFormatError, match="the upload is not a .lutnet"):
        load_model(b"not a zip")
