"""Commands on models: ``info``, ``eval``, ``train``, ``ensemble``, ``import``."""
from __future__ import annotations

from typing import Any

import click
from click.core import ParameterSource

from lutrun.cli.common import (IMAGE_FILE, OutputFile, emit, engine_option, engine_options, int_list, model_input, overlay_option,
                               temporal_options, with_options)
from lutrun.errors import BackendUnavailableError, ConfigError
from lutrun.model import METHODS
from lutrun.train.config import TrainConfig


@click.command()
@model_input
def info(model: str | None) -> None:
    """Describe MODEL (default: the shipped model)."""
    from lutrun.resources import resolve_model

    emit(resolve_model(model).summary())


def _methods(_ctx: Any, _param: Any, value: str | None) -> list[str] | None:
    if value is None:
        return None
    chosen = value.split(",")
    unknown = [m for m in chosen if m not in METHODS]
    if unknown:
        raise click.BadParameter(f"{', '.join(unknown)}: choose from {', '.join(METHODS)}")
    return chosen


@click.command("eval")
@model_input
@click.option("--data", required=True, help="Dataset: idx directory, image-folder tree (DIR/<split>/<class>/...) or .npz.")
@click.option("--split", default="test", type=click.Choice(["test", "val", "train"]))
@engine_option
@overlay_option
@click.option("--limit", type=click.IntRange(1), help="Only the first N images.")
@with_options(temporal_options)
@click.option("--hold", default=32, type=click.IntRange(1, 4096),
              help="Temporal: camera frames each image is held for (a still scene); accuracy per frame of the hold.")
@click.option("--frames", "frame_list", callback=int_list, help="Study: accuracy for each F, e.g. 1,2,4,8,15,32.")
@click.option("--method", "methods", callback=_methods,
              help=f"Study: methods, comma-separated, of {', '.join(METHODS)} [default: the model's].")
@click.option("--plot", type=IMAGE_FILE, help="Study: also save the curves as a PNG (needs lutrun[plot]).")
def eval_cmd(model: str | None, data: str, split: str, engine_name: str, overlay: str | None, limit: int | None,
             temporal: bool, temporal_shift: int | None, hold: int, frame_list: tuple[int, ...] | None,
             methods: list[str] | None, plot: str | None) -> None:
    """Accuracy, per-class accuracy and confusion matrix of MODEL (default: the shipped model).

    With --frames (and --method), instead print accuracy against F for each method.  With --temporal,
    accuracy per camera frame while each image is held still for --hold frames.
    """
    from lutrun.datasets import load_dataset
    from lutrun.engines import create_engine
    from lutrun.evaluate import evaluate
    from lutrun.resources import resolve_model

    lutnet = resolve_model(model)
    images = load_dataset(data, split, limit, lutnet.input_shape).relabelled(lutnet.class_names)
    if frame_list or methods or plot:
        from lutrun.study import accuracy_vs_frames, plot_study

        study = accuracy_vs_frames(lutnet, images.images, images.labels,
                                   list(frame_list or [lutnet.modulation.frames]), methods or [lutnet.modulation.method],
                                   engine_name)
        emit(study)
        if plot:
            plot_study(study, plot)
        return
    options = engine_options(engine_name, lutnet, overlay=overlay, temporal=temporal, temporal_shift=temporal_shift)
    with create_engine(engine_name, lutnet, **options) as engine:
        if engine.temporal is not None:
            from lutrun.study import temporal_accuracy

            emit({"engine": engine_name, "split": split, **temporal_accuracy(engine, images.images, images.labels, hold)})
            return
        emit({"engine": engine_name, "split": split, **evaluate(engine, images.images, images.labels)})


def _train_option(name: str, help: str, type: Any = None, **extra: Any) -> Any:
    """A training flag defaulting to TrainConfig's value (the shipped recipe), as --help shows it.

    Only flags given on the command line override a --config file (see ``train``).
    """
    default = TrainConfig.defaults()[name.replace("-", "_")]
    if isinstance(default, list):
        default = ",".join(map(str, default)) or None
    return click.option(f"--{name}", type=type, default=default if default != "" else None, help=help, **extra)


@click.command()
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False),
              help="TOML file of settings; its keys are these flags' names (docs/training.md). Flags override it.")
@_train_option("data", "Dataset: a directory of idx files, an image-folder tree (DIR/train/<class>/*.png, optional "
               "DIR/val, DIR/test) or an .npz with x and y (docs/training.md).")
@_train_option("out", "Where to write the .lutnet (OUT.ckpt beside it holds the checkpoint).", type=OutputFile())
@_train_option("input-shape", "Model input H,W,C (C 1 grey, 3 colour); images are resized and converted to it "
               "[default: the images' own, which must then all match].", callback=int_list)
@_train_option("layers", "LUT layer widths; the last a multiple of the class count.", callback=int_list)
@_train_option("wiring", "Per layer: random or local (comma-separated; one value applies to all) "
               "[default: local for the first layer, random above].")
@_train_option("window", "Receptive window of local first-layer LUTs.", type=click.IntRange(1))
@_train_option("teacher", "Distil from this model (a path or zoo name, same input and classes), or from cnn:EPOCHS, "
               "a small convolutional network trained first on the same split: the student also learns the "
               "teacher's class probabilities.")
@_train_option("distill", "With --teacher: weight of the teacher's probabilities against the labels.",
               type=click.FloatRange(0, 1))
@_train_option("learn-wiring", "The first layer learns which inputs each LUT reads (DWN's learnable mapping) "
               "instead of taking --wiring's.", is_flag=True)
@_train_option("conv", "Convolution-like LUT stages before --layers, each CHANNELSxKERNEL[sSTRIDE], e.g. 16x5s2,32x3s2 "
               "(tables shared per channel while training, unrolled in the model).")
@_train_option("fan-in", "Inputs per LUT.", type=click.IntRange(1, 6))
@_train_option("shift", "Augmentation: random shifts of up to N pixels.", type=click.IntRange(0, 4))
@_train_option("elastic", "Augmentation: each image warped by its own smooth random displacement field of "
               "about ALPHA/25 pixels (Simard et al.'s elastic distortion; 34 for 28x28 digits); 0: none.",
               type=click.FloatRange(0, 100))
@_train_option("method", "Modulation of the exported model.", type=click.Choice(list(METHODS)))
@_train_option("frames", "Sub-frames F of the exported model.", type=click.IntRange(1, 4096))
@_train_option("train-frames", "Sub-frames drawn per image per step (<= F).", type=click.IntRange(1))
@_train_option("epochs", "Passes over the training split.", type=click.IntRange(1))
@_train_option("batch", "Images per step.", type=click.IntRange(1))
@_train_option("lr", "Adam learning rate.", type=click.FloatRange(0, min_open=True))
@_train_option("temperature", "Softmax temperature on the per-class mean vote (lower is sharper).",
               type=click.FloatRange(0, min_open=True))
@_train_option("seed", "Seed of wiring, initialisation and batches.", type=int)
@_train_option("limit", "Use only the first N training images.", type=click.IntRange(1))
@_train_option("validation", "Hold out the first N training images for validation.", type=click.IntRange(0))
@_train_option("checkpoint", "Checkpoint path [default: OUT.ckpt].", type=OutputFile())
@_train_option("name", "Model name stored in meta.")
@_train_option("device", "Where PyTorch trains: auto (CUDA if present), cpu, cuda or cuda:N; the model is the same.")
@click.option("--resume", is_flag=True, help="Continue from the checkpoint.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def train(config_path: str | None, **flags: Any) -> None:
    """Train a LUT-network on a labelled image set and export it (needs lutrun[train]).

    With no settings beyond --data and --out this is the shipped model's recipe (docs/models.md).
    """
    ctx = click.get_current_context()
    given = {k: v for k, v in flags.items() if ctx.get_parameter_source(k) is not ParameterSource.DEFAULT}
    for key in ("wiring", "conv"):
        if given.get(key) is not None:
            given[key] = given[key].split(",")
    for key in ("layers", "input_shape"):
        if given.get(key) is not None:
            given[key] = list(given[key])
    cfg = TrainConfig.load(config_path, **given)
    if not cfg.data:
        raise ConfigError("no dataset: give --data DIR (or data = ... in the config)")
    try:
        from lutrun.train.loop import train as run_training
    except ImportError as exc:
        raise BackendUnavailableError(f"training needs PyTorch: pip install 'lutrun[train]' ({exc})") from None
    emit(run_training(cfg, resume=cfg.resume, quiet=cfg.quiet))


@click.command("ensemble")
@click.argument("models", nargs=-1, required=True, metavar="MODELS...")
@click.option("--out", required=True, type=OutputFile(), help="The merged .lutnet to write.")
@click.option("--name", default="ensemble", help="Model name stored in meta.")
@click.option("--data", help="Also measure the merged model (C engine) on this dataset (idx, image folder or .npz; "
              "classes matched by name): its test split, and its val split or else the first --validation "
              "training images (the trainer's validation split).")
@click.option("--validation", default=5000, type=click.IntRange(0),
              help="With --data and no val split: training images measured as the validation split (0: none).")
def ensemble_cmd(models: tuple[str, ...], out: str, name: str, data: str | None, validation: int) -> None:
    """Merge trained MODELS (paths or zoo names) side by side into one .lutnet whose votes are the sum of theirs."""
    from lutrun.datasets import dataset_splits, load_dataset
    from lutrun.engines import create_engine
    from lutrun.ensemble import ensemble
    from lutrun.evaluate import evaluate
    from lutrun.modelfile import save_model
    from lutrun.resources import resolve_model

    merged = ensemble([resolve_model(spec) for spec in models], name)
    if data:
        accuracy: dict[str, Any] = {"engine": "cpu", "frames": merged.modulation.frames}
        shape, names = merged.input_shape, merged.class_names
        splits = {"test": load_dataset(data, "test", None, shape).relabelled(names)}
        if "val" in dataset_splits(data):
            splits["validation"] = load_dataset(data, "val", None, shape).relabelled(names)
        elif validation:
            splits["validation"] = load_dataset(data, "train", validation, shape).relabelled(names)
        with create_engine("cpu", merged) as engine:
            for split, images in splits.items():
                accuracy[split] = evaluate(engine, images.images, images.labels)["accuracy"]
        merged.info["accuracy"] = accuracy
    save_model(merged, out)
    emit({"out": out, **merged.summary()})


@click.group("import")
def import_group() -> None:
    """Convert LUT networks written by other tools into .lutnet files."""


@import_group.command("binarybrain")
@click.argument("verilog", type=click.Path(exists=True, dir_okay=False))
@click.option("--out", required=True, type=OutputFile(), help="The .lutnet to write.")
@click.option("--shape", required=True, callback=int_list, help="Input geometry H,W,C, e.g. 28,28,1.")
@click.option("--classes", default=10, type=click.IntRange(1))
@click.option("--grouping", default="mod", type=click.Choice(["mod", "block"]),
              help="Output o votes for class o mod classes (BinaryBrain's Reduce), or blocks of outputs per class.")
@click.option("--method", default="thermometer", type=click.Choice(list(METHODS)))
@click.option("--frames", default=15, type=click.IntRange(1, 4096))
@click.option("--seed", default=1, type=int)
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


@click.command("models")
@click.option("--plot", type=IMAGE_FILE, help="Also save accuracy against LUT count, beside published LUT networks "
              "(needs lutrun[plot]).")
def models_cmd(plot: str | None) -> None:
    """List the model zoo: each shipped model's name, size, F, accuracy and the command that trained it.

    A name works wherever a MODEL is taken (``lutrun eval mnist-700 --data ...``).
    """
    from lutrun.zoo import entries, plot_zoo

    rows = entries()
    emit({"models": rows})
    if plot:
        plot_zoo(rows, plot)


COMMANDS = [info, models_cmd, eval_cmd, train, ensemble_cmd, import_group]
