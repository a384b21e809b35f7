"""One CLI convention: MODEL taken the same way everywhere, defaults shown, output paths checked first."""
from __future__ import annotations

import importlib.metadata
import sys
import time
import types

import click
import pytest
from click.testing import CliRunner

from lutrun.bench.latency import _read_summary
from lutrun.cli import cli
from lutrun.cli.common import OutputDir, OutputFile
from lutrun.resources import DEFAULT_MODEL
from lutrun.stream import sinks
from lutrun.train.config import TrainConfig

from conftest import ROOT, run_cli

MODEL_COMMANDS = {"info", "eval", "demo", "bench engine", "bench fused", "bench latency", "bench rtl", "bench capture", "export rtl",
                  "export overlay", "report rtl", "serve", "compile"}
OUTPUT_OPTIONS = {"out", "record", "jsonl", "plot", "histogram", "logdir", "checkpoint", "video"}


def _commands(group: click.Group = cli, prefix: str = "") -> dict[str, click.Command]:
    found: dict[str, click.Command] = {}
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found.update(_commands(command, f"{prefix}{name} "))
        else:
            found[prefix + name] = command
    return found


def _param(command: click.Command, name: str) -> click.Parameter | None:
    return next((p for p in command.params if p.name == name), None)


def test_every_command_that_takes_a_model_takes_it_as_model_or_dash_dash_model():
    takes = {name for name, c in _commands().items() if _param(c, "model") is not None}
    assert takes == MODEL_COMMANDS
    for name in takes:
        command = _commands()[name]
        assert isinstance(_param(command, "model"), click.Argument), name
        assert "--model" in _param(command, "model_option").opts, name


def test_both_spellings_give_the_same_answer_and_a_conflict_is_an_error(tmp_path):
    runner = CliRunner()
    positional = runner.invoke(cli, ["info", str(DEFAULT_MODEL)])
    option = runner.invoke(cli, ["info", "--model", str(DEFAULT_MODEL)])
    assert positional.exit_code == option.exit_code == 0 and positional.output == option.output
    other = tmp_path / "other.lutnet"
    other.write_bytes(DEFAULT_MODEL.read_bytes())
    both = run_cli("eval", str(DEFAULT_MODEL), "--model", str(other), "--data", "x")
    assert both.returncode == 2 and "the model is given twice" in both.stderr


def test_every_default_is_shown_in_help():
    for name, command in _commands().items():
        with click.Context(command, info_name=name, show_default=True) as ctx:
            for param in command.params:
                if not isinstance(param, click.Option) or param.hidden:
                    continue
                record = param.get_help_record(ctx)
                default = param.get_default(ctx)
                unset = default is None or type(default).__name__ == "Sentinel"  # click >= 8.3 says UNSET
                if not unset and default not in (False, (), []) and not param.is_flag:
                    assert record and "[default:" in record[1], f"{name} {param.opts[0]} hides its default"


def test_every_output_path_is_checked_when_the_command_line_is_read():
    for name, command in _commands().items():
        for param in command.params:
            if param.name in OUTPUT_OPTIONS:
                assert isinstance(param.type, (OutputFile, OutputDir)), f"{name} --{param.name}"


@pytest.mark.parametrize("args", [
    ("bench", "latency", "--duration", "60", "--histogram", "no/such/dir/h.png"),
    ("demo", "--duration", "30", "--jsonl", "/nonexistent-dir/frames.jsonl"),
    ("eval", "--data", "x", "--frames", "1,15", "--plot", "/nonexistent-dir/p.png"),
    ("export", "rtl", "--out", str(DEFAULT_MODEL / "rtl")),
])
def test_a_bad_output_path_fails_before_any_work(args):
    start = time.monotonic()
    result = run_cli(*args)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert time.monotonic() - start < 20  # the 60 s benchmark never started


def test_plain_train_is_the_local_recipe_of_the_zoo_and_config_keys_are_the_flags(tmp_path):
    recipe = TrainConfig()
    assert (recipe.epochs, recipe.lr, recipe.shift, recipe.temperature, recipe.layers, recipe.seed) == \
        (30, 0.03, 1, 0.05, [2000, 800, 400], 1)
    config = tmp_path / "t.toml"
    config.write_text('quiet = true\nresume = false\nfan-in = 4\ntrain_frames = 3\nepochs = 2\n')
    loaded = TrainConfig.load(config, epochs=5)
    assert (loaded.quiet, loaded.fan_in, loaded.train_frames, loaded.epochs) == (True, 4, 3, 5)
    assert "quiet" not in loaded.to_json()  # a run option, not provenance
    config.write_text("bogus = 1\n")
    with pytest.raises(Exception, match="unknown setting"):
        TrainConfig.load(config)


def test_train_flags_override_the_config_only_when_given(tmp_path, monkeypatch):
    seen = {}
    # The trainer itself (and torch) stays out: the CLI hands it a config, which is what this checks.
    fake_loop = types.SimpleNamespace(train=lambda cfg, resume, quiet: seen.update(cfg=cfg) or {"ok": True})
    monkeypatch.setitem(sys.modules, "lutrun.train.loop", fake_loop)
    config = tmp_path / "t.toml"
    config.write_text('data = "d"\nepochs = 7\nlr = 0.5\nquiet = true\n')
    result = CliRunner().invoke(cli, ["train", "--config", str(config), "--lr", "0.1"])
    assert result.exit_code == 0, result.output
    cfg = seen["cfg"]
    assert (cfg.epochs, cfg.lr, cfg.quiet, cfg.shift) == (7, 0.1, True, 1)


def test_eval_method_errors_name_the_flag():
    result = run_cli("eval", "--data", "x", "--method", "foo")
    assert result.returncode == 2 and "--method" in result.stderr and "foo" in result.stderr
    assert "meta.modulation" not in result.stderr


def test_gui_extra_is_declared_and_the_headless_message_names_it(monkeypatch):
    requires = importlib.metadata.requires("lutrun") or []
    assert any(r.startswith("opencv-python>=") and 'extra == "gui"' in r for r in requires)
    monkeypatch.setenv("DISPLAY", ":99")
    monkeypatch.setattr(sinks.cv2, "namedWindow", lambda _: (_ for _ in ()).throw(sinks.cv2.error("no gui")))
    assert "lutrun[gui]" in sinks.display_available()


def test_license_is_an_spdx_expression():
    meta = importlib.metadata.metadata("lutrun")
    assert meta.get("License-Expression") == "Apache-2.0"


def test_loadgen_invalid_verdict_carries_its_reasons(tmp_path):
    (tmp_path / "mlperf_log_summary.txt").write_text(
        "Result is : INVALID\n  Min duration satisfied : Yes\n  Min queries satisfied : Yes\n"
        "  Early stopping satisfied: NO\nRecommendations:\n * Increase the target latency.\n"
        "90.00 percentile latency (ns)   : 120000\n")
    summary = _read_summary(tmp_path)
    assert summary["valid"] is False
    assert summary["invalid_because"] == ["Early stopping satisfied: NO", "* Increase the target latency."]


def test_bench_latency_script_usage_line():
    result = run_cli_script("--help")
    assert result.returncode == 0 and result.stdout.startswith("Usage: bench_latency.py [OPTIONS] [MODEL]")


def run_cli_script(*args: str):
    import subprocess

    return subprocess.run([sys.executable, str(ROOT / "apps" / "bench_latency.py"), *args], capture_output=True,
                          text=True, timeout=60)
