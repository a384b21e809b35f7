"""Reading and writing ``.lutnet`` files (docs/model-format.md).

A ``.lutnet`` is an ``.npz`` archive, but it is read here member by member
instead of through ``np.load``: every header is checked before any data is
allocated, object dtypes (pickles) are refused, and sizes are bounded, so a
hostile file can neither run code nor exhaust memory.
"""
from __future__ import annotations

import io
import json
import os
import re
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from lutrun.errors import ModelFormatError
from lutrun.limits import MODEL_BYTES, limit
from lutrun.model import FORMAT, MAX_LAYERS, VERSION, Layer, Model, Modulation

MAX_MEMBER_BYTES = 512 << 20
MAX_META_CHARS = 1 << 20
_MEMBER = re.compile(r"^(meta|output_classes|layer(0|[1-9][0-9]{0,2})_(inputs|tables))\.npy$")
_KNOWN_META = ("format", "version", "input_shape", "classes", "class_names", "modulation")

PathLike = str | os.PathLike


def save_model(model: Model, path: PathLike) -> Path:
    """Write ``model`` atomically (temp file + rename); returns the path.

    >>> import tempfile, pathlib, lutrun
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "tiny.lutnet"
    >>> lutrun.save_model(lutrun.random_model((4, 4, 1), (8, 3), n_classes=3), path).name
    'tiny.lutnet'
    >>> lutrun.load_model(path).widths
    [8, 3]
    """
    path = Path(path)
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "input_shape": list(model.input_shape),
        "classes": model.n_classes,
        "class_names": model.class_names,
        "modulation": model.modulation.to_json(),
        **{k: v for k, v in model.info.items() if k not in _KNOWN_META},
    }
    arrays: dict[str, np.ndarray] = {"meta": np.array(json.dumps(meta, sort_keys=True))}
    for i, layer in enumerate(model.layers):
        arrays[f"layer{i}_inputs"] = layer.inputs
        arrays[f"layer{i}_tables"] = layer.tables
    arrays["output_classes"] = model.output_classes
    fd, tmp = tempfile.mkstemp(dir=path.parent if str(path.parent) else ".", suffix=".tmp")
    try:
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would make a shipped model unreadable to others
        with os.fdopen(fd, "wb") as f, zipfile.ZipFile(f, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, array in arrays.items():
                buf = io.BytesIO()
                np.lib.format.write_array(buf, array, allow_pickle=False)
                zf.writestr(name + ".npy", buf.getvalue())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    return path


def load_model(path: PathLike | bytes, max_bytes: int | None = None) -> Model:
    """Read and fully validate a ``.lutnet`` (a path, or the file's bytes, as an upload brings them).

    Any defect raises ModelFormatError naming the field; nothing is allocated beyond what the
    archive's headers declare, and their total is bounded by ``max_bytes`` (default: the
    LUTRUN_MAX_MODEL_BYTES limit, docs/limits.md).

    >>> import lutrun
    >>> model = lutrun.load_model(lutrun.DEFAULT_MODEL)
    >>> model.input_shape, model.n_luts, model.modulation.frames
    ((28, 28, 1), 3200, 15)
    """
    arrays = _read_members(path if isinstance(path, (bytes, bytearray)) else Path(path), max_bytes)
    meta = _parse_meta(arrays.pop("meta", None))
    layers = []
    for i in range(MAX_LAYERS + 1):
        inputs, tables = arrays.pop(f"layer{i}_inputs", None), arrays.pop(f"layer{i}_tables", None)
        if inputs is None and tables is None:
            break
        if inputs is None or tables is None:
            missing = f"layer{i}_inputs" if inputs is None else f"layer{i}_tables"
            raise ModelFormatError(missing, "missing (its layer's other array is present)")
        layers.append(Layer(inputs, tables))
    if not layers:
        raise ModelFormatError("layer0_inputs", "missing: a model needs at least one layer")
    if arrays.keys() - {"output_classes"}:
        raise ModelFormatError(sorted(arrays.keys() - {"output_classes"})[0], "layers must be numbered 0, 1, 2, ... without gaps")
    if "output_classes" not in arrays:
        raise ModelFormatError("output_classes", "missing")
    modulation = meta["modulation"]
    if not isinstance(modulation, dict) or set(modulation) != {"method", "frames", "seed", "range"}:
        raise ModelFormatError("meta.modulation", "must be an object with exactly method, frames, seed, range")
    model = Model(
        input_shape=meta["input_shape"],
        layers=layers,
        output_classes=arrays["output_classes"],
        class_names=meta["class_names"],
        modulation=Modulation(**modulation),
        info={k: v for k, v in meta.items() if k not in _KNOWN_META},
    )
    if meta["classes"] != model.n_classes:
        raise ModelFormatError("meta.classes", f"says {meta['classes']} but class_names has {model.n_classes}")
    return model


def _open_archive(source: Path | bytes) -> zipfile.ZipFile:
    """The archive, from bytes or from a regular file (never a device, FIFO or directory)."""
    name = "the upload" if isinstance(source, (bytes, bytearray)) else str(source)
    try:
        if isinstance(source, (bytes, bytearray)):
            return zipfile.ZipFile(io.BytesIO(source))
        if not source.exists():
            raise ModelFormatError("file", f"{source} does not exist")
        if not source.is_file():
            raise ModelFormatError("file", f"{source} is not a regular file")
        return zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as exc:
        raise ModelFormatError("file", f"{name} is not a .lutnet (npz) archive: {exc}") from None


def _read_members(source: Path | bytes, max_bytes: int | None) -> dict[str, np.ndarray]:
    arrays = {}
    with _open_archive(source) as zf:
        infos = zf.infolist()
        if len(infos) > 2 * MAX_LAYERS + 2:
            raise ModelFormatError("file", f"{len(infos)} members is more than any valid model has")
        total, most = sum(info.file_size for info in infos), max_bytes or limit(MODEL_BYTES)
        if total > most:
            where = "LUTRUN_MAX_MODEL_BYTES raises it" if max_bytes is None else "the caller's limit"
            raise ModelFormatError("file", f"its members hold {total} bytes, over the {most} byte limit "
                                   f"({where}; docs/limits.md)")
        for info in infos:
            if info.flag_bits & 0x1:
                raise ModelFormatError(info.filename, "is encrypted; a .lutnet holds plain members")
            match = _MEMBER.match(info.filename)
            if not match:
                raise ModelFormatError(info.filename, "unexpected member in a .lutnet archive")
            key = match.group(1)
            if key in arrays:
                raise ModelFormatError(key, "appears twice in the archive")
            try:
                arrays[key] = _read_array(zf, info, key)
            except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError, RuntimeError) as exc:
                if isinstance(exc, ModelFormatError):
                    raise
                raise ModelFormatError(key, f"unreadable ({exc})") from None
    return arrays


def _read_array(zf: zipfile.ZipFile, info: zipfile.ZipInfo, key: str) -> np.ndarray:
    if info.file_size > MAX_MEMBER_BYTES:
        raise ModelFormatError(key, f"{info.file_size} bytes is over the {MAX_MEMBER_BYTES} byte limit")
    with zf.open(info) as f:
        major, _ = np.lib.format.read_magic(f)
        if major == 1:
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
        elif major in (2, 3):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
        else:
            raise ModelFormatError(key, f"unsupported .npy version {major}")
        if dtype.hasobject:
            raise ModelFormatError(key, "holds Python objects (pickle); refused")
        count = int(np.prod(shape, dtype=np.int64)) if shape else 1
        nbytes = count * dtype.itemsize
        if count < 0 or nbytes != info.file_size - f.tell():
            raise ModelFormatError(key, f"header says {shape} {dtype} but the member holds {info.file_size - f.tell()} data bytes")
        array = np.empty(count, dtype)  # read straight into the array: nothing is held twice
        if f.readinto(memoryview(array).cast("B")) != nbytes or f.read(1):
            raise ModelFormatError(key, "truncated")
    return array.reshape(shape, order="F" if fortran else "C")


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _parse_meta(meta: np.ndarray | None) -> dict[str, Any]:
    if meta is None:
        raise ModelFormatError("meta", "missing")
    if meta.shape != () or meta.dtype.kind != "U" or meta.dtype.itemsize // 4 > MAX_META_CHARS:
        raise ModelFormatError("meta", "must be a 0-d string array holding JSON")
    try:
        parsed = json.loads(str(meta[()]), parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as exc:  # ValueError: also integers too long to convert
        raise ModelFormatError("meta", f"is not valid JSON ({exc})") from None
    if not isinstance(parsed, dict):
        raise ModelFormatError("meta", "must be a JSON object")
    if parsed.get("format") != FORMAT:
        raise ModelFormatError("meta.format", f"must be {FORMAT!r}, got {parsed.get('format')!r}")
    version = parsed.get("version")
    if type(version) is not int or version != VERSION:  # not True, not 1.0
        raise ModelFormatError("meta.version", f"version {parsed.get('version')!r} is not supported (this lutrun reads {VERSION})")
    for key in _KNOWN_META[2:]:
        if key not in parsed:
            raise ModelFormatError(f"meta.{key}", "missing")
    return parsed
