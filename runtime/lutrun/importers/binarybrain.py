"""Import LUT layers from BinaryBrain's Verilog export into a ``.lutnet``.

BinaryBrain (``bb.dump_verilog_lut_layers`` / ``ExportVerilog_LutLayers``) writes a top module
that chains sub-modules ``<name>_sub0``, ``<name>_sub1``, ...; each sub-module holds one LUT
layer: per node ``i_lut_<node>``, an instance of ``bb_lut`` with ``.N(k)``, ``.INIT(<2^k>'b...)``
and ``.in_data({in_data[c_{k-1}], ..., in_data[c_0]})`` (a Verilog concatenation, so the last
entry is LUT input 0), or of a Xilinx ``LUT1``..``LUT6`` primitive with ``.I0(in_data[c_0])`` ...
Both follow ``LUT6.INIT``: bit j of INIT is the output for the input word j, exactly lutrun's
table convention, so tables and wiring carry over unchanged.  The Verilog knows nothing of the
image shape, the class grouping or the modulation; the caller supplies them.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from lutrun.errors import ModelFormatError
from lutrun.model import Layer, Model, Modulation, round_robin_classes

_MODULE = re.compile(r"\bmodule\s+(\w+)(.*?)\bendmodule\b", re.S)
_PORT = re.compile(r"\b(?:input|output)\s+wire\s*\[\s*(\d+)\s*(-\s*1)?\s*:\s*0\s*\]\s*(in_data|out_data)\b")
_BB_LUT = re.compile(r"\bbb_lut\s*#\s*\((.*?)\)\s*(\w+)\s*\((.*?)\)\s*;", re.S)
_PRIMITIVE = re.compile(r"\bLUT([1-6])\s*#\s*\((.*?)\)\s*(\w+)\s*\((.*?)\)\s*;", re.S)
_INIT = re.compile(r"\.INIT\s*\(\s*(\d*)\s*'\s*([bBhHdD])\s*([0-9a-fA-F_xXzZ]+)\s*\)")
_N = re.compile(r"\.N\s*\(\s*(\d+)\s*\)")
_IN_BIT = re.compile(r"\bin_data\s*\[\s*(\d+)\s*\]")
_NODE = re.compile(r"(\d+)$")
_SUB = re.compile(r"(\w+)_sub(\d+)$")


def _strip_comments(text: str) -> str:
    return re.sub(r"/\*.*?\*/", " ", re.sub(r"//[^\n]*", "", text), flags=re.S)


def _init_value(params: str, size: int, where: str) -> int:
    match = _INIT.search(params)
    if match is None:
        raise ModelFormatError(where, "no .INIT(...) parameter")
    width, base, digits = match.groups()
    digits = digits.replace("_", "")
    if re.search(r"[xXzZ]", digits):
        raise ModelFormatError(where, "INIT has x or z bits")
    value = int(digits, {"b": 2, "h": 16, "d": 10}[base.lower()])
    if width and int(width) != size:
        raise ModelFormatError(where, f"INIT is {width} bits wide, a {size.bit_length() - 1}-input LUT needs {size}")
    if value >> size:
        raise ModelFormatError(where, f"INIT does not fit in {size} bits")
    return value


def _layer(name: str, body: str) -> tuple[int, int, Layer] | None:
    """(input width, output width, layer) of one sub-module, or None if it holds no LUTs."""
    widths = {port: int(msb) + (0 if minus else 1) for msb, minus, port in _PORT.findall(body)}
    luts: dict[int, tuple[list[int], int]] = {}
    for params, instance, connections in _BB_LUT.findall(body):
        where = f"{name}.{instance}"
        n_match = _N.search(params)
        k = int(n_match.group(1)) if n_match else 6
        pins = [int(i) for i in _IN_BIT.findall(connections)][::-1]  # concatenation lists input k-1 first
        luts[_node(instance, where)] = (pins, _init_value(params, 1 << k, where))
        if len(pins) != k:
            raise ModelFormatError(where, f".N({k}) but {len(pins)} inputs wired")
    for k_text, params, instance, connections in _PRIMITIVE.findall(body):
        where, k = f"{name}.{instance}", int(k_text)
        pins_by_port = {int(p): int(i) for p, i in re.findall(r"\.I(\d)\s*\(\s*in_data\s*\[\s*(\d+)\s*\]\s*\)", connections)}
        if sorted(pins_by_port) != list(range(k)):
            raise ModelFormatError(where, f"LUT{k} needs in_data bits on I0..I{k - 1}")
        luts[_node(instance, where)] = ([pins_by_port[m] for m in range(k)], _init_value(params, 1 << k, where))
    if not luts:
        return None
    if sorted(luts) != list(range(len(luts))):
        raise ModelFormatError(name, "LUT instances are not numbered 0..n-1")
    fan_in = {len(pins) for pins, _ in luts.values()}
    if len(fan_in) != 1:
        raise ModelFormatError(name, f"mixed LUT sizes {sorted(fan_in)} in one layer")
    inputs = np.array([luts[n][0] for n in range(len(luts))], np.int32)
    tables = np.array([luts[n][1] for n in range(len(luts))], np.uint64)
    n_in = widths.get("in_data", int(inputs.max()) + 1)
    n_out = widths.get("out_data", len(luts))
    if n_out != len(luts):
        raise ModelFormatError(name, f"out_data is {n_out} bits but {len(luts)} LUTs are defined")
    return n_in, n_out, Layer(inputs, tables)


def _node(instance: str, where: str) -> int:
    match = _NODE.search(instance)
    if match is None:
        raise ModelFormatError(where, "instance name does not end in its node number (i_lut_<n>)")
    return int(match.group(1))


def read_binarybrain_layers(text: str) -> tuple[int, list[Layer]]:
    """(input bits, layers in order) from BinaryBrain Verilog source text."""
    modules = [(name, body) for name, body in _MODULE.findall(_strip_comments(text))]
    layers = [(name, found) for name, body in modules if (found := _layer(name, body)) is not None]
    if not layers:
        raise ModelFormatError("verilog", "no bb_lut or LUT1..LUT6 instances found")
    # <name>_sub<i> gives the order; otherwise the order in the file.
    if all(_SUB.match(name) for name, _ in layers):
        layers.sort(key=lambda item: int(_SUB.match(item[0]).group(2)))  # type: ignore[union-attr]
    for (prev_name, (_, prev_out, _)), (name, (n_in, _, _)) in zip(layers, layers[1:]):
        if n_in != prev_out:
            raise ModelFormatError(name, f"reads {n_in} bits but {prev_name} gives {prev_out}")
    return layers[0][1][0], [layer for _, (_, _, layer) in layers]


def import_binarybrain(path: str | Path, input_shape: tuple[int, int, int], n_classes: int,
                       modulation: Modulation, grouping: str = "mod", name: str | None = None) -> Model:
    """A Model from a BinaryBrain Verilog file.

    ``grouping``: how last-layer outputs vote: ``mod`` (output o votes for class o mod n_classes,
    as BinaryBrain's Reduce layer sums) or ``block`` (consecutive blocks of outputs per class).
    """
    path = Path(path)
    try:
        text = path.read_text(errors="strict")
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelFormatError(str(path), f"cannot read ({exc})") from None
    n_inputs, layers = read_binarybrain_layers(text)
    if int(np.prod(input_shape)) != n_inputs:
        raise ModelFormatError("input_shape", f"{input_shape} has {int(np.prod(input_shape))} pixels, "
                                              f"the Verilog reads {n_inputs} bits")
    n_out = layers[-1].width
    if n_out % n_classes:
        raise ModelFormatError("classes", f"{n_out} outputs do not split evenly into {n_classes} classes")
    if grouping == "mod":
        classes = round_robin_classes(n_out, n_classes)
    elif grouping == "block":
        classes = np.arange(n_out) // (n_out // n_classes)
    else:
        raise ModelFormatError("grouping", f"must be mod or block, got {grouping!r}")
    info = {"name": name or path.stem, "imported_from": f"BinaryBrain Verilog {path.name}", "grouping": grouping}
    return Model(tuple(input_shape), layers, classes.astype(np.int32), [str(c) for c in range(n_classes)],
                 modulation, info)
