"""The ``lutrun`` command line.  Errors end in a one-line message and a non-zero exit code."""
from __future__ import annotations

import sys
from typing import Any

import click

from lutrun.cli.common import emit, engine_options, int_list, model_for, overlay_option, temporal_options, with_options
from lutrun.cli.hardware import export_group, report_group
from lutrun.errors import BackendUnavailableError, ConfigError, LutrunError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="lutrun")
def cli() -> None:
    """lutrun: real-time inference for LUT-networks, bit-exact on CPU and FPGA."""


@cli.command()
@click.argument("model", required=False, type=click.Path(dir_okay=False))
def info(model: str | None) -> None:
    """Describe MODEL (default: the shipped default model)."""
    from lutrun.resources import resolve_model

    emit(resolve_model(model).summary())


@cli.group()
def bench() -> None:
    """Benchmarks; each prints one JSON object."""


_model_option = click.option("--model", "model_path", type=click.Path(dir_okay=False),
                             help="A .lutnet file (default: the shipped model, or a random one of the default shape).")
_layers_option = click.option("--layers", callback=int_list, help="Random model of these widths, e.g. 2304,384,64,360,60,10.")


_generic_option = click.option("--generic", is_flag=True,
                               help="Only the table-driven kernel (no per-model C compile, which takes ~20 s once per model).")


@bench.command("engine")
@_model_option
@_layers_option
@click.option("--k", default=6, show_default=True, type=click.IntRange(1, 6), help="Fan-in of the random model's LUTs.")
@click.option("--samples", default=1 << 16, show_default=True, type=click.IntRange(64), help="Sub-frame samples per timed call.")
@click.option("--threads", type=click.IntRange(1), help="Threads for the all-cores figure (default: all cores).")
@_generic_option
def bench_engine_cmd(model_path: str | None, layers: tuple[int, ...] | None, k: int, samples: int, threads: int | None,
                     generic: bool) -> None:
    """LUT-samples per second of the C engine (one core and all cores) and of the numpy reference."""
    from lutrun.bench.engine import bench_engine

    emit(bench_engine(model_for(model_path, layers, k), samples=samples, threads=threads, specialise=not generic))


@cli.command()
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False), help="TOML file; its keys are the flags' names.")
@click.option("--data", help="Directory with the idx files (train-images-idx3-ubyte.gz, ...).")
@click.option("--out", help="Where to write the .lutnet.")
@click.option("--layers", callback=int_list, help="LUT layer widths, e.g. 2000,800,400.")
@click.option("--wiring", help="Per layer: random or local (comma-separated; one value applies to all).")
@click.option("--window", type=click.IntRange(1), help="Receptive window of local first-layer LUTs.")
@click.option("--conv", "conv_stages", help="Convolution-like LUT stages before --layers, each CHANNELSxKERNEL[sSTRIDE], "
              "e.g. 16x5s2,32x3s2 (tables shared per channel while training, unrolled in the model).")
@click.option("--fan-in", type=click.IntRange(1, 6))
@click.option("--shift", type=click.IntRange(0, 4), help="Augmentation: random shifts of up to N pixels.")
@click.option("--method", type=click.Choice(["thermometer", "stochastic", "sigma-delta"]))
@click.option("--frames", type=click.IntRange(1, 4096), help="Sub-frames F of the exported model.")
@click.option("--train-frames", type=click.IntRange(1), help="Sub-frames drawn per image per step (<= F).")
@click.option("--epochs", type=click.IntRange(1))
@click.option("--batch", type=click.IntRange(1))
@click.option("--lr", type=float)
@click.option("--temperature", type=click.FloatRange(0, min_open=True),
              help="Softmax temperature on the per-class mean vote (default 0.05; lower is sharper).")
@click.option("--seed", type=int)
@click.option("--limit", type=click.IntRange(1), help="Use only the first N training images.")
@click.option("--name", help="Model name stored in meta.")
@click.option("--resume", is_flag=True, help="Continue from the checkpoint (OUT.ckpt).")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def train(config_path: str | None, resume: bool, quiet: bool, wiring: str | None, conv_stages: str | None,
          **flags: Any) -> None:
    """Train a LUT-network on an idx dataset and export it (needs lutrun[train])."""
    from lutrun.train import TrainConfig

    flags["wiring"] = wiring.split(",") if wiring else None
    flags["conv"] = conv_stages.split(",") if conv_stages else None
    flags["layers"] = list(flags["layers"]) if flags["layers"] else None
    cfg = TrainConfig.load(config_path, **{k.replace("-", "_"): v for k, v in flags.items()})
    if not cfg.data:
        raise ConfigError("no dataset: give --data DIR (or data = ... in the config)")
    try:
        from lutrun.train.loop import train as run_training
    except ImportError as exc:
        raise BackendUnavailableError(f"training needs PyTorch: pip install 'lutrun[train]' ({exc})") from None
    emit(run_training(cfg, resume=resume, quiet=quiet))


@cli.command()
@click.option("--source", "source_specs", multiple=True,
              help="builtin (default), camera:N, video:PATH, images:DIR or dataset:DIR, options after '?', "
                   "e.g. dataset:DIR?rate=1000&shift=2. Repeat for several streams.")
@_model_option
@click.option("--engine", "engine_name", default="cpu", show_default=True, help="Engine: cpu, numpy, fpga, sim.")
@click.option("--specialise", is_flag=True, help="cpu: compile C for this model first (~20 s once, then cached).")
@overlay_option
@with_options(temporal_options)
@click.option("--frames", type=click.IntRange(1, 4096), help="Sub-frames F (default: the model's).")
@click.option("--display/--headless", default=False, show_default=True, help="Show an annotated window.")
@click.option("--record", type=click.Path(dir_okay=False), help="Write an annotated video (.mp4 or .avi).")
@click.option("--jsonl", type=click.Path(dir_okay=False), help="Write one JSON line per frame.")
@click.option("--duration", type=click.FloatRange(0, min_open=True), help="Stop after S seconds.")
@click.option("--policy", type=click.Choice(["latest", "all"]), help="Drop stale frames or never drop "
              "(default: latest for cameras, all otherwise).")
@click.option("--status-every", type=click.IntRange(1), help="A status line every N frames (default: every second).")
@click.option("--invert", is_flag=True, help="Swap black and white (dark digits on white paper).")
@click.option("--normalize", is_flag=True, help="Stretch each frame's contrast to 0..255.")
def demo(source_specs: tuple[str, ...], model_path: str | None, engine_name: str, specialise: bool,
         overlay: str | None, temporal: bool, temporal_shift: int | None, frames: int | None, display: bool, record: str | None, jsonl: str | None, duration: float | None,
         policy: str | None, status_every: int | None, invert: bool, normalize: bool) -> None:
    """Classify a live stream and print a running status, then a JSON summary.

    With no options: the shipped model on the built-in stream (1,000 MNIST test images, five times, at 1000 fps).
    """
    from lutrun.engines import create_engine
    from lutrun.stream import ConsoleSink, DisplaySink, JsonlSink, Pipeline, PipelineOptions, VideoSink, open_source
    from lutrun.stream.sinks import display_available

    model = model_for(model_path).with_modulation(frames=frames)
    sources = [open_source(spec) for spec in source_specs or ("builtin",)]
    sinks: list[Any] = [ConsoleSink(every_frames=status_every)]
    if display:
        why_not = display_available()
        if why_not:
            click.echo(f"lutrun: no window ({why_not}); running headless", err=True)
        else:
            sinks.append(DisplaySink())
    if record:
        sinks.append(VideoSink(record))
    if jsonl:
        sinks.append(JsonlSink(jsonl))
    options = engine_options(engine_name, model, specialise, overlay, temporal, temporal_shift)
    with create_engine(engine_name, model, **options) as engine:
        pipeline = Pipeline(sources, engine, sinks, PipelineOptions(policy=policy,
                                                                    preprocess={"invert": invert, "normalize": normalize}))
        emit(pipeline.run(duration=duration))


@cli.group("import")
def import_group() -> None:
    """Convert LUT networks written by other tools into .lutnet files."""


@import_group.command("binarybrain")
@click.argument("verilog", type=click.Path(exists=True, dir_okay=False))
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="The .lutnet to write.")
@click.option("--shape", required=True, callback=int_list, help="Input geometry H,W,C, e.g. 28,28,1.")
@click.option("--classes", default=10, show_default=True, type=click.IntRange(1))
@click.option("--grouping", default="mod", show_default=True, type=click.Choice(["mod", "block"]),
              help="Output o votes for class o mod classes (BinaryBrain's Reduce), or blocks of outputs per class.")
@click.option("--method", default="thermometer", show_default=True,
              type=click.Choice(["thermometer", "stochastic", "sigma-delta"]))
@click.option("--frames", default=15, show_default=True, type=click.IntRange(1, 4096))
@click.option("--seed", default=1, show_default=True, type=int)
def import_binarybrain_cmd(verilog: str, out: str, shape: tuple[int, ...], classes: int, grouping: str, method: str,
                           frames: int, seed: int) -> None:
    """Read BinaryBrain's exported Verilog LUT layers (INIT and wiring) into a .lutnet."""
    from lutrun.importers.binarybrain import import_binarybrain
    from lutrun.model import Modulation
    from lutrun.modelfile import save_model

    if len(shape) != 3:
        raise ConfigError("--shape needs three numbers: H,W,C")
    model = import_binarybrain(verilog, (shape[0], shape[1], shape[2]), classes,
                               Modulation(method, frames, seed, (0, 255)), grouping)
    save_model(model, out)
    emit({"out": out, **model.summary()})


@cli.command("ensemble")
@click.argument("models", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="The merged .lutnet to write.")
@click.option("--name", default="ensemble", show_default=True, help="Model name stored in meta.")
@click.option("--data", help="Also measure the merged model (C engine): the test split, and the first "
              "--validation training images (the trainer's validation split).")
@click.option("--validation", default=5000, show_default=True, type=click.IntRange(0))
def ensemble_cmd(models: tuple[str, ...], out: str, name: str, data: str | None, validation: int) -> None:
    """Merge trained MODELS side by side into one .lutnet whose votes are the sum of theirs."""
    from lutrun.datasets import load_idx_dataset
    from lutrun.engines import create_engine
    from lutrun.ensemble import ensemble
    from lutrun.evaluate import evaluate
    from lutrun.modelfile import load_model, save_model

    merged = ensemble([load_model(path) for path in models], name)
    if data:
        accuracy: dict[str, Any] = {"engine": "cpu", "frames": merged.modulation.frames}
        splits = {"test": load_idx_dataset(data, "test")}
        if validation:
            splits["validation"] = load_idx_dataset(data, "train", validation)
        with create_engine("cpu", merged) as engine:
            for split, images in splits.items():
                accuracy[split] = evaluate(engine, images.images, images.labels)["accuracy"]
        merged.info["accuracy"] = accuracy
    save_model(merged, out)
    emit({"out": out, **merged.summary()})


@cli.command("eval")
@click.argument("model", required=False, type=click.Path(dir_okay=False))
@click.option("--data", required=True, help="Directory with the idx files.")
@click.option("--split", default="test", show_default=True, type=click.Choice(["test", "train"]))
@click.option("--engine", "engine_name", default="cpu", show_default=True, help="Engine: cpu, numpy, fpga, sim.")
@overlay_option
@click.option("--limit", type=click.IntRange(1), help="Only the first N images.")
@with_options(temporal_options)
@click.option("--hold", default=32, show_default=True, type=click.IntRange(1, 4096),
              help="Temporal: camera frames each image is held for (a still scene); accuracy per frame of the hold.")
@click.option("--frames", "frame_list", callback=int_list, help="Study: accuracy for each F, e.g. 1,2,4,8,15,32.")
@click.option("--method", "methods", default=None, help="Study: methods, comma-separated (default: the model's).")
@click.option("--plot", type=click.Path(dir_okay=False), help="Study: save the curves as a PNG.")
def eval_cmd(model: str | None, data: str, split: str, engine_name: str, overlay: str | None, limit: int | None,
             temporal: bool, temporal_shift: int | None, hold: int, frame_list: tuple[int, ...] | None, methods: str | None, plot: str | None) -> None:
    """Accuracy, per-class accuracy and confusion matrix of MODEL (default: the shipped model).

    With --frames (and --method), instead print accuracy against F for each method.  With --temporal,
    accuracy per camera frame while each image is held still for --hold frames.
    """
    from lutrun.datasets import load_idx_dataset
    from lutrun.engines import create_engine
    from lutrun.evaluate import evaluate
    from lutrun.resources import resolve_model

    lutnet = resolve_model(model)
    images = load_idx_dataset(data, split, limit)
    if frame_list or methods or plot:
        from lutrun.study import accuracy_vs_frames, plot_study

        chosen = methods.split(",") if methods else [lutnet.modulation.method]
        study = accuracy_vs_frames(lutnet, images.images, images.labels,
                                   list(frame_list or [lutnet.modulation.frames]), chosen, engine_name)
        if plot:
            plot_study(study, plot)
        emit(study)
        return
    options = engine_options(engine_name, lutnet, overlay=overlay, temporal=temporal, temporal_shift=temporal_shift)
    with create_engine(engine_name, lutnet, **options) as engine:
        if engine.temporal is not None:
            from lutrun.study import temporal_accuracy

            emit({"engine": engine_name, "split": split, **temporal_accuracy(engine, images.images, images.labels, hold)})
            return
        emit({"engine": engine_name, "split": split, **evaluate(engine, images.images, images.labels)})


@bench.command("rtl")
@_model_option
@click.option("--data", help="idx dataset directory (default: the built-in sample of 1,000 MNIST frames).")
@click.option("--limit", type=click.IntRange(1), help="Only the first N frames.")
@click.option("--clock-mhz", default=200.0, show_default=True, type=click.FloatRange(1, 1000))
@click.option("--temporal", is_flag=True, help="Temporal mode (one sub-frame per frame).")
@click.option("--stages-every", default=1, show_default=True, type=click.IntRange(1))
@click.option("--pixels-per-beat", default=8, show_default=True, type=click.Choice(["1", "2", "4", "8"]))
def bench_rtl_cmd(model_path: str | None, data: str | None, limit: int | None, clock_mhz: float, temporal: bool,
                  stages_every: int, pixels_per_beat: str) -> None:
    """Co-simulate the overlay (Verilator) on real frames: mismatches against the C engine, clocks, frames/s."""
    from lutrun.bench.rtl import bench_rtl
    from lutrun.datasets import load_idx_dataset
    from lutrun.stream.sources import builtin_dataset_dir

    images = load_idx_dataset(data or builtin_dataset_dir(), "test", limit).images
    emit(bench_rtl(model_for(model_path), images, clock_mhz, temporal, stages_every=stages_every,
                   pixels_per_beat=int(pixels_per_beat)))


@bench.command("fused")
@_model_option
@click.option("--frames", type=click.IntRange(1, 4096), help="Sub-frames F (default: the model's).")
@click.option("--method", type=click.Choice(["thermometer", "stochastic", "sigma-delta"]), help="Modulation (default: the model's).")
@click.option("--count", default=100_000, show_default=True, type=click.IntRange(1), help="Single frames timed.")
@click.option("--batch", default=8192, show_default=True, type=click.IntRange(1), help="Frames per batch call.")
@_generic_option
def bench_fused_cmd(model_path: str | None, frames: int | None, method: str | None, count: int, batch: int,
                    generic: bool) -> None:
    """Fused frame -> scores call: single-frame p50/p99 latency and batch frames/s (one core)."""
    from lutrun.bench.fused import bench_fused

    model = model_for(model_path).with_modulation(frames=frames, method=method)
    emit(bench_fused(model, count=count, batch=batch, specialise=not generic))


@bench.command("latency")
@_model_option
@click.option("--scenario", default="Server", show_default=True,
              type=click.Choice(["SingleStream", "MultiStream", "Server", "Offline"]))
@click.option("--rate", default=1000.0, show_default=True, type=click.FloatRange(0, min_open=True),
              help="Server: frames per second (Poisson arrivals, as LoadGen issues them).")
@click.option("--duration", default=60.0, show_default=True, type=click.FloatRange(0, min_open=True),
              help="Minimum seconds of the run.")
@click.option("--engine", "engine_name", default="cpu", show_default=True, help="Engine: cpu, numpy, fpga, sim.")
@overlay_option
@click.option("--data", help="idx dataset directory (default: the built-in sample).")
@click.option("--streams", default=4, show_default=True, type=click.IntRange(1), help="MultiStream: frames per query.")
@click.option("--frames", type=click.IntRange(1, 4096), help="Sub-frames F (default: the model's).")
@click.option("--policy", type=click.Choice(["latest", "all"]), help="Override the scenario's drop policy.")
@click.option("--queue", default=32, show_default=True, type=click.IntRange(1), help="Frames that may wait before "
              "the oldest is dropped (latest policy).")
@click.option("--histogram", default="latency-histogram.png", show_default=True, help="PNG path ('' for none).")
@click.option("--logdir", help="Keep LoadGen's logs here.")
@_generic_option
def bench_latency_cmd(model_path: str | None, scenario: str, rate: float, duration: float, engine_name: str,
                      overlay: str | None, data: str | None, streams: int, frames: int | None, policy: str | None, queue: int, histogram: str,
                      logdir: str | None, generic: bool) -> None:
    """End-to-end latency of the whole pipeline under an MLPerf scenario (MLCommons LoadGen)."""
    from lutrun.bench.latency import bench_latency

    model = model_for(model_path).with_modulation(frames=frames)
    options = engine_options(engine_name, model, specialise=not generic, overlay=overlay)
    emit(bench_latency(model, scenario, rate, duration, engine_name, data, streams, policy, queue,
                       engine_options=options, histogram=histogram or None, logdir=logdir))


cli.add_command(export_group)
cli.add_command(report_group)


def main() -> None:
    try:
        cli(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("lutrun: aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except LutrunError as exc:
        click.echo(f"lutrun: error: {exc}", err=True)
        sys.exit(1)
