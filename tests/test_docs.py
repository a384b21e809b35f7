"""The documentation is code: docstring examples, README and docs/ snippets and commands, the API reference."""
from __future__ import annotations

import doctest
import importlib
import importlib.util
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest

from lutrun.cli import cli
from lutrun.train.config import TrainConfig

from conftest import ROOT

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
PUBLIC_MODULES = ["lutrun", "lutrun.modelfile", "lutrun.model", "lutrun.engines", "lutrun.engines.base",
                  "lutrun.temporal", "lutrun.datasets", "lutrun.rtl.design", "lutrun.stream.pipeline", "lutrun.serve.config",
                  "lutrun.serve.app"]


def _blocks(language: str) -> list[tuple[Path, str]]:
    return [(path, block) for path in DOCS
            for block in re.findall(rf"```{language}\n(.*?)```", path.read_text(), re.DOTALL)]


@pytest.mark.parametrize("module", PUBLIC_MODULES)
def test_docstring_examples_run(module):
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0


@pytest.mark.parametrize("path,code", _blocks("python"), ids=lambda v: v.name if isinstance(v, Path) else "")
def test_python_snippets_in_the_docs_run(path, code, tmp_path):
    if code.startswith("# On the board"):
        pytest.skip("needs a Zynq board")
    if 'create_engine("sim"' in code and importlib.util.find_spec("pynq") is None:
        pytest.skip("the sim engine needs pynq (the numpy-1.26 environment runs this)")
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"{path.name}:\n{code}\n{result.stderr}"


def test_the_training_config_example_is_complete_and_is_the_recipe(tmp_path):
    (toml,) = [block for _, block in _blocks("toml")]
    config = tmp_path / "train.toml"
    config.write_text(toml)
    loaded = TrainConfig.load(config)
    keys = set(re.findall(r"^#?\s*(\w+) =", toml, re.MULTILINE))
    assert keys == set(TrainConfig.defaults())  # every setting is shown
    assert {**loaded.to_json(), "data": ""} == TrainConfig().to_json()


def _documented_commands() -> list[tuple[str, list[str]]]:
    commands = []
    for path in DOCS:
        for block in re.findall(r"```sh\n(.*?)```", path.read_text(), re.DOTALL):
            for line in block.replace("\\\n", " ").splitlines():
                line = line.split(" # ")[0].strip()
                if line.startswith("lutrun "):
                    commands.append((path.name, shlex.split(line)[1:]))
    return commands


@pytest.mark.parametrize("where,args", _documented_commands(), ids=lambda v: " ".join(v) if isinstance(v, list) else v)
def test_every_documented_command_names_real_options(where, args):
    """Walk the CLI as click would: each subcommand exists, each --option belongs to it, positionals fit."""
    command: click.Command = cli
    args = list(args)
    while isinstance(command, click.Group) and args and not args[0].startswith("-"):
        name = args.pop(0)
        assert name in command.commands, f"{where}: no command {name!r}"
        command = command.commands[name]
    options = {opt: p for p in command.params if isinstance(p, click.Option) for opt in (*p.opts, *p.secondary_opts)}
    arguments = [p for p in command.params if isinstance(p, click.Argument)]
    positional, i = 0, 0
    while i < len(args):
        token = args[i]
        if token.startswith("--"):
            name = token.split("=")[0]
            assert name in options, f"{where}: {command.name} has no option {name}"
            i += 1 if ("=" in token or options[name].is_flag or options[name].count) else 2
        else:
            positional += 1
            i += 1
    capacity = sum(float("inf") if a.nargs == -1 else a.nargs for a in arguments)
    assert positional <= capacity, f"{where}: too many arguments for {command.name}: {args}"


@pytest.mark.skipif(shutil.which("pdoc") is None and importlib.util.find_spec("pdoc") is None,
                    reason="pdoc is not installed")
def test_api_reference_builds_without_warnings(tmp_path):
    result = subprocess.run([sys.executable, "-m", "pdoc", "-o", str(tmp_path), "lutrun", "lutrun.stream",
                             "lutrun.engines", "lutrun.rtl", "lutrun.temporal", "lutrun.serve", "lutrun.datasets"], capture_output=True, text=True)
    assert result.returncode == 0 and "Warn" not in result.stderr, result.stderr
    page = (tmp_path / "lutrun.html").read_text()
    assert "create_engine" in page and "load_model" in page and "export_rtl" in page


@pytest.mark.parametrize("feature", ["--normalize", "--specialise", "--streams", "--logdir", "--generic",
                                     "--validation", "--resume", "OUT.ckpt", "validation =", "checkpoint =",
                                     "Pipeline(", ".ci/run", "--temporal", "--overlay", "lutrun[gui]"])
def test_features_users_look_for_are_documented(feature):
    assert any(feature in path.read_text() for path in DOCS), f"{feature} is documented nowhere"
