"""Model-specialised C: each LUT becomes straight-line code with its table folded in.

Three steps, kept apart: ``generate_sources`` writes the model's C (each LUT with its inputs in
the order that needs the fewest operations), ``compile_kernel`` builds it into a shared library,
its parts in parallel (for this machine, ``-O1 -march=native``, or cross-compiled for a board's
ARM core), and ``load_kernel`` opens one and checks that it was built for this model and this
contract (``lr_kernel.h``).  ``kernel_for`` is what ``CpuEngine(specialise=True)`` calls: a
library ``lutrun compile`` prebuilt for this machine's target if the cache has one, else a
native build, cached by the model's digest, the template and generator, the compiler and the CPU.
"""
from __future__ import annotations

import hashlib
import itertools
import os
import platform
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lutrun.cache import cache_root
from lutrun.codegen.cheader import KERNEL_HEADER, declarations
from lutrun.errors import BackendUnavailableError, ConfigError
from lutrun.model import Model

TEMPLATE = Path(__file__).with_name("specialised_kernel.c")
# A function's code (~150 bytes a LUT) stays in L1 while it runs over LR_BLOCK_TILES tiles: 64 to 128 LUTs a
# function gave the same speed here, 256 less (its code no longer fits), 16 to 32 less too (calls).
LUTS_PER_FUNCTION = 128
FUNCTIONS_PER_PART = 4  # per translation unit: the compiler's time grows with the unit, the units run in parallel
CFLAGS = ["-O1", "-shared", "-fPIC", "-std=gnu11", "-Wno-psabi"]
# Every logic operation is already an explicit instruction; GCC's RTL combiner
# only burns time on this code (5x the compile time for the same output), and so
# does its points-to analysis (a fifth of the rest; no kernel got slower).
GCC_FLAGS = ["-fdisable-rtl-combine", "-fno-tree-pta"]


@dataclass(frozen=True)
class Target:
    """Where a kernel runs: the compilers to try (first found wins) and their flags."""

    compilers: tuple[str, ...]
    flags: tuple[str, ...]
    machines: tuple[str, ...]  # platform.machine() values this target's libraries load on


TARGETS = {
    "native": Target((), ("-march=native",), ()),
    # The Zynq-7000 boards (PYNQ-Z2): Cortex-A9 with NEON, 32-bit hard-float.
    "armv7": Target(("arm-linux-gnueabihf-gcc",), ("-mcpu=cortex-a9", "-mfpu=neon", "-mfloat-abi=hard"),
                    ("armv7l", "armv7")),
    # The ZynqMP boards (ZCU104, KV260): Cortex-A53.
    "aarch64": Target(("aarch64-linux-gnu-gcc",), ("-mcpu=cortex-a53",), ("aarch64", "arm64")),
}


def cache_dir() -> Path:
    return cache_root() / "kernels"


def expand_table(table: int, k: int) -> int:
    """A k-input table as a 6-input one that ignores inputs k..5 (as native/net.c does)."""
    for m in range(k, 6):
        table = (table & ((1 << (1 << m)) - 1)) | (table << (1 << m))
    return table


# Leaves that cost nothing: constants and the three leaf inputs themselves (x0, x1, x2 as 3-input tables).
_FREE_LEAVES = {0x00: "z", 0xFF: "~z", 0xAA: "x0", 0xCC: "x1", 0xF0: "x2"}


def _input_orders() -> np.ndarray:
    """The 120 orders of a LUT's six inputs that differ for the code: which three feed the leaves (in any
    order), then the order of the three mux levels.  The identity comes first, so that ties keep it."""
    orders: dict[tuple, tuple[int, ...]] = {}
    for order in itertools.permutations(range(6)):
        orders.setdefault((frozenset(order[:3]), order[3:]), order)
    return np.array(list(orders.values()), np.int64)


_ORDERS = _input_orders()
# Bit j of a table reordered by ORDERS[p] (new input m = old input p[m]) is bit _SOURCE_BIT[p, j] of the old one.
_INDEX_BITS = (np.arange(64)[:, None] >> np.arange(6)) & 1  # [j, m]: bit m of table index j
_SOURCE_BIT = (_INDEX_BITS @ (np.int64(1) << _ORDERS).T).T


def _reordered_leaves(tables: np.ndarray) -> np.ndarray:
    """[N] 6-input tables -> [N, orders, 8] leaf bytes of each table under each input order."""
    bits = ((tables[:, None] >> np.arange(64, dtype=np.uint64)) & np.uint64(1)).astype(np.uint8)
    reordered = bits[:, _SOURCE_BIT]  # [N, orders, 64]
    return np.packbits(reordered.reshape(len(tables), len(_ORDERS), 8, 8), axis=-1, bitorder="little")[..., 0]


def _distinct(ids: np.ndarray, counted: np.ndarray) -> np.ndarray:
    """How many distinct values of ``ids`` (last axis) are ``counted``."""
    keyed = np.sort(np.where(counted, ids, -1), axis=-1)
    first = np.concatenate([np.ones_like(keyed[..., :1], bool), keyed[..., 1:] != keyed[..., :-1]], axis=-1)
    return (first & (keyed >= 0)).sum(axis=-1)


def best_input_orders(tables: np.ndarray) -> np.ndarray:
    """For each 6-input table, the input order whose code (``lut_expression``) has the fewest 3-input
    operations: distinct leaves that are not free, and distinct muxes at each level.  [N, 6]."""
    if len(tables) == 0:
        return np.zeros((0, 6), np.int64)
    leaves = _reordered_leaves(np.asarray(tables, np.uint64)).astype(np.int64)
    ops = _distinct(leaves, ~np.isin(leaves, list(_FREE_LEAVES)))
    ids, base = leaves, 256
    for _ in range(2):  # the levels on x3 and x4
        a, b = ids[..., 0::2], ids[..., 1::2]
        mux = a != b
        ids = np.where(mux, base + a * base + b, a)  # a mux node's id names its two children
        ops += _distinct(ids, mux)
        base = base * base + 2 * base
    ops += ids[..., 0] != ids[..., 1]  # the root on x5: one mux or none (its id would overflow int64)
    return _ORDERS[np.argmin(ops, axis=1)]


def _reorder(table: int, order: np.ndarray) -> int:
    """``table`` with its inputs taken in ``order`` (new input m = old input order[m])."""
    source = _INDEX_BITS @ (np.int64(1) << np.asarray(order, np.int64))
    return sum(1 << j for j in range(64) if (table >> int(source[j])) & 1)


def lut_expression(table: int, k: int, order: np.ndarray | None = None) -> str:
    """C expression of one LUT: eight 3-input leaves over x0..x2, then a mux tree on x3..x5, with the
    LUT's inputs taken in ``order`` (x{m} is input order[m]; inputs from k on repeat input 0)."""
    t = expand_table(int(table), k)
    if order is not None:
        t = _reorder(t, order)
    leaves = []
    for i in range(8):
        byte = (t >> (8 * i)) & 0xFF
        leaves.append(_FREE_LEAVES.get(byte, f"T3({byte:#04x}, x2, x1, x0)"))
    for m in (3, 4, 5):
        leaves = [a if a == b else f"MUX({a}, {b}, x{m})" for a, b in zip(leaves[0::2], leaves[1::2])]
    return leaves[0]


def _by_inputs(inputs: np.ndarray) -> np.ndarray:
    """LUT indices in the order of their inputs (smallest first, then the next): neighbours share rows of the
    layer below while those are in L1 (+8 % LUT-samples/s here, outputs unchanged)."""
    return np.lexsort(np.sort(inputs, axis=1)[:, ::-1].T)


def schedule(model: Model) -> list[tuple[int, int]]:
    """The order in which the kernel runs the LUTs, as (layer, LUT) pairs.  Each layer runs in the order of
    its inputs, but the last layer's LUTs interleave with the layer below: each runs right after the
    LUTs of its inputs that had not run yet, so that it reads their rows while they are still in L1.
    (Only these two layers may: a hidden layer overwrites the rows of the layer two below it.)"""
    order: list[tuple[int, int]] = []
    *below, last = range(len(model.layers))
    for l in below[:-1]:
        order += [(l, int(j)) for j in _by_inputs(model.layers[l].inputs)]
    done = np.zeros(model.layers[below[-1]].width if below else 0, bool)
    for j in _by_inputs(model.layers[last].inputs):
        if below:
            for i in np.sort(model.layers[last].inputs[j]):
                if not done[i]:
                    done[i] = True
                    order.append((below[-1], int(i)))
        order.append((last, int(j)))
    order += [(below[-1], int(i)) for i in np.flatnonzero(~done)]  # none in a pruned model
    return order


def generate_sources(model: Model) -> dict[str, str]:
    """The model's C, file name -> text, over the LUTs that reach an output (``Model.pruned``; the engine's
    net is the same): one translation unit per ``FUNCTIONS_PER_PART`` functions of ``LUTS_PER_FUNCTION`` LUTs
    (``part*.c``, compiled in parallel) and ``main.c`` with the table of those functions and the entry points.
    The LUTs run in ``schedule``'s order; layer l reads the rows of layer l - 1 (the input rows for the first)
    and writes its own, in ping-pong buffers s0 and s1, the last layer into the caller's output rows."""
    digest, model = model.net_digest(), model.pruned()
    steps = schedule(model)
    n_functions = -(-len(steps) // LUTS_PER_FUNCTION)
    decl = [f"/* Generated by lutrun.codegen for model {digest}: do not edit. */",
            "#ifndef LRX_MAX_WIDTH", f"#define LRX_MAX_WIDTH {max(model.widths)}",
            f"#define LRX_INPUTS {model.n_inputs}", f'#define LRX_DIGEST "{digest}"',
            f"#define LRX_FUNCTIONS {n_functions}", "#endif"]
    orders = [best_input_orders(np.array([expand_table(int(t), layer.fan_in) for t in layer.tables], np.uint64))
              for layer in model.layers]
    n_layers = len(model.layers)
    signature = "void FN(f{})(const uint64_t *rows, uint64_t *s0, uint64_t *s1, uint64_t *out, int64_t stride)"
    parts: list[list[str]] = []
    for f, n0 in enumerate(range(0, len(steps), LUTS_PER_FUNCTION)):
        if f % FUNCTIONS_PER_PART == 0:
            parts.append([])
        decl.append(f"LRX_PART_FN {signature.format(f)};")
        body = parts[-1]
        body += [signature.format(f), "{\n    const V z = {0};\n    (void)z;\n    (void)stride;"
                 "\n    (void)rows;\n    (void)s0;\n    (void)s1;\n    (void)out;"]
        for l, j in steps[n0:n0 + LUTS_PER_FUNCTION]:
            layer = model.layers[l]
            src = "rows" if l == 0 else ("s0" if l % 2 else "s1")
            inputs = [*layer.inputs[j], *[layer.inputs[j][0]] * (6 - layer.fan_in)]
            loads = ", ".join(f"x{m} = LD({src}, {int(inputs[i])})" for m, i in enumerate(orders[l][j]))
            code = lut_expression(layer.tables[j], layer.fan_in, orders[l][j])
            store = f"STO({j}, " if l == n_layers - 1 else f"ST({'s1' if l % 2 else 's0'}, {j}, "
            body.append(f"    {{ const V {loads}; {store}{code}); }}")
        body.append("}")
    table = ["static void (*const FN(functions)[LRX_FUNCTIONS])(const uint64_t *, uint64_t *, uint64_t *, uint64_t *, "
             "int64_t) = {", "    " + ", ".join(f"FN(f{f})" for f in range(n_functions)), "};"]
    files = {"lutnet_decl.h": "\n".join(decl) + "\n", "lutnet_main.h": "\n".join(table) + "\n",
             "main.c": '#define LRX_MAIN 1\n#define LRX_BODY "lutnet_main.h"\n#include "specialised_kernel.c"\n'}
    for k, body in enumerate(parts):
        files[f"lutnet_part{k}.h"] = "\n".join(body) + "\n"
        files[f"part{k}.c"] = f'#define LRX_BODY "lutnet_part{k}.h"\n#include "specialised_kernel.c"\n'
    return files


def write_sources(model: Model, folder: Path) -> list[Path]:
    """Write ``generate_sources`` into ``folder``; returns its translation units (compile them with ``-I``
    ``folder`` and ``-I`` this package's codegen folder)."""
    units = []
    for name, text in generate_sources(model).items():
        (folder / name).write_text(text)
        if name.endswith(".c"):
            units.append(folder / name)
    return units


def _compiler(target: str) -> str:
    own = os.environ.get("CC", "cc")
    spec = TARGETS[target]
    # On the board itself its own compiler builds for it; elsewhere the cross compiler does.
    candidates = spec.compilers + ((own,) if not spec.compilers or platform.machine() in spec.machines else ())
    found = next((cc for cc in candidates if shutil.which(cc)), None)
    if found is None:
        raise BackendUnavailableError(f"no C compiler for the {target} kernel (tried {', '.join(candidates)}); "
                                      "Debian: apt-get install gcc-arm-linux-gnueabihf gcc-aarch64-linux-gnu")
    return found


def _cpu_signature() -> str:
    try:
        info = Path("/proc/cpuinfo").read_text()
        flags = next((line for line in info.splitlines() if line.startswith(("flags", "Features"))), "")
        name = next((line for line in info.splitlines() if line.startswith("model name")), "")
        return name + flags
    except OSError:
        return platform.processor() + platform.machine()


def machine_target() -> str | None:
    """The board target whose prebuilt kernels this machine loads, if any."""
    return next((name for name, t in TARGETS.items() if platform.machine() in t.machines), None)


def kernel_flags(target: str, version: str) -> list[str]:
    """The flags a kernel for ``target`` is built with, by a compiler that says ``version``."""
    return [*CFLAGS, *TARGETS[target].flags, *(GCC_FLAGS if "Free Software Foundation" in version else [])]


def prebuilt_name(model: Model, target: str) -> str:
    """The file name ``lutrun compile`` gives a target's kernel, which the engine looks for in the cache."""
    return f"lutnet-{model.net_digest()[:24]}-{target}.so"


def compile_kernel(model: Model, target: str = "native", out: Path | None = None) -> Path:
    """Build ``model``'s kernel for ``target``; returns the library's path.

    ``out`` None: the cache (a native build is reused while model, template, generator, compiler
    and CPU are the same).  A board target is written as ``prebuilt_name`` into ``out`` (a folder).
    """
    if target not in TARGETS:
        raise ConfigError(f"unknown kernel target {target!r}; choose one of {', '.join(TARGETS)}")
    cc = _compiler(target)
    version = subprocess.run([cc, "--version"], capture_output=True, text=True).stdout
    flags = kernel_flags(target, version)
    if target == "native":
        # The generator's own source too: a change to the code it writes must not load yesterday's library.
        key = hashlib.sha256("\0".join([model.net_digest(), TEMPLATE.read_text(), KERNEL_HEADER.read_text(),
                                        Path(__file__).read_text(), version, " ".join(flags),
                                        _cpu_signature()]).encode()).hexdigest()[:24]
        destination = (out or cache_dir()) / f"lutnet-{key}.so"
        if out is None and destination.exists():
            return destination
    else:
        destination = (out or cache_dir()) / prebuilt_name(model, target)
    destination.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=destination.parent) as tmp:
        objects = compile_objects(model, cc, flags, Path(tmp))
        built = Path(tmp) / "kernel.so"
        run_parallel([[cc, *flags, *map(str, objects), "-o", str(built)]])
        os.replace(built, destination)  # atomic: a reader never sees half a library
    return destination


def compile_objects(model: Model, cc: str, flags: list[str], folder: Path) -> list[Path]:
    """``model``'s sources written into ``folder`` and compiled there by ``cc`` with ``flags``, all parts at
    once; returns the object files (for a shared library, or a static harness: tests/golden.py)."""
    units = write_sources(model, folder)
    include = ["-I", str(folder), "-I", str(KERNEL_HEADER.parent)]
    run_parallel([[cc, *flags, "-c", *include, str(unit), "-o", str(unit.with_suffix(".o"))] for unit in units])
    return [unit.with_suffix(".o") for unit in units]


def run_parallel(commands: list[list[str]]) -> None:
    """Run compiler commands, as many at once as this machine has cores; BackendUnavailableError names the
    first that failed."""
    jobs = max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
    pending, running, failed = list(commands), [], None
    while pending or running:
        while pending and len(running) < jobs and failed is None:
            running.append(subprocess.Popen(pending.pop(0), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                            text=True))
        if not running:
            break
        process = running.pop(0)
        output = process.communicate()[0]
        if process.returncode != 0 and failed is None:
            failed = output
    if failed is not None:
        raise BackendUnavailableError(f"compiling the specialised kernel failed: {failed.strip()[-2000:]}")


@dataclass
class Kernel:
    """A loaded kernel library: ``address`` is its ``lrx_eval`` for ``lr_net_set_kernel``; keep this
    object alive as long as the address is in use."""

    path: Path
    address: int
    library: Any


def load_kernel(path: Path, model: Model) -> Kernel:
    """Open a kernel library built for ``model``; BackendUnavailableError if it cannot be loaded or was
    built for another model or another contract."""
    import cffi

    ffi = cffi.FFI()
    ffi.cdef(declarations(KERNEL_HEADER))
    try:
        library = ffi.dlopen(str(path))
        digest, abi = ffi.string(library.lrx_net_digest()).decode(), int(library.lrx_abi())
    except (OSError, AttributeError) as exc:
        raise BackendUnavailableError(f"{path}: not a kernel library for this machine ({exc})") from None
    if digest != model.net_digest() or abi != library.LR_KERNEL_ABI:
        raise BackendUnavailableError(f"{path}: built for network {digest[:16]} (contract {abi}), not for "
                                      f"{model.net_digest()[:16]} (contract {library.LR_KERNEL_ABI})")
    return Kernel(Path(path), int(ffi.cast("uintptr_t", library.lrx_eval)), library)


def kernel_for(model: Model) -> Kernel:
    """The kernel ``CpuEngine(specialise=True)`` installs: prebuilt for this machine if there is one, else
    built here; a damaged cache entry (truncated, overwritten) is rebuilt once."""
    target = machine_target()
    if target is not None:
        prebuilt = cache_dir() / prebuilt_name(model, target)
        if prebuilt.exists():
            return load_kernel(prebuilt, model)
    path = compile_kernel(model)
    try:
        return load_kernel(path, model)
    except BackendUnavailableError:
        path.unlink(missing_ok=True)
        return load_kernel(compile_kernel(model), model)
