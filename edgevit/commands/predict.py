"""`edgevit predict` (image files -> top-k labels through an exported model or a checkpoint) and `edgevit info`
(what an artifact or checkpoint is). Typer glue only: the work is in the torch-free `edgevit.runtimes.predict`
/ `edgevit.runtimes.describe`, and in `edgevit.inspect_checkpoint` for checkpoints. torch is imported only for
`--checkpoint` / `--runtime torch`.
These are the only command lines for predict and info: `python -m edgevit.runtimes predict|describe` (the
device-side entry point) hands its arguments to them.
"""

from __future__ import annotations

from pathlib import Path

import typer

_PREDICT_HELP = (
    "Predict the classes of image files (PNG, JPEG, ...; folders are walked) with an exported model.\n\n"
    "The model: --artifact PATH, --checkpoint DIR, or an export or checkpoint folder given as the first path "
    "(edgevit predict MODEL IMAGES...).\n\n"
    "Images are preprocessed exactly as the artifact's edgevit.json says, run one at a time in the runtime that "
    "fits the file (or --runtime), and shown as file -> top-k labels with probabilities, with the latency per "
    "image.\n\nA file that cannot be read is reported and the others go on; any failed file makes the exit "
    "status 1. Torch-free: a device with the pi extra runs this same command."
)


def _model_given_first(images: list[Path]) -> tuple[Path | None, Path | None, list[Path]]:
    """`edgevit predict MODEL IMAGE...`: a first path that is an export folder (it has edgevit.json) or a
    checkpoint folder is the model (artifact, checkpoint), the others are the images."""
    from edgevit.runtimes.base import is_checkpoint_dir
    from edgevit.runtimes.contract import CONTRACT_FILENAME

    first, rest = images[0], images[1:]
    if not rest:
        return None, None, images
    if (first / CONTRACT_FILENAME).is_file():
        return first, None, rest
    if is_checkpoint_dir(first):
        return None, first, rest
    return None, None, images


def register(app: typer.Typer) -> None:
    @app.command("predict", help=_PREDICT_HELP)
    def predict(
        images: list[Path] = typer.Argument(..., metavar="IMAGE_OR_DIR", help="Image files or folders of them."),
        artifact: Path = typer.Option(None, "--artifact", "-a", help="Exported artifact file or its folder "
                                      "(with edgevit.json)."),
        checkpoint: Path = typer.Option(None, "--checkpoint", "-c", help="Checkpoint folder, run in torch eager."),
        runtime: str = typer.Option(None, "--runtime", "-r", help="onnx | tflite | coreml | executorch | torch "
                                    "(default: the one that fits the file)."),
        topk: int = typer.Option(3, "--topk", "-k", help="Labels shown per image."),
        threads: int = typer.Option(None, "--threads", "-t", help="Runtime threads (default: the runtime's)."),
        strict_channels: bool = typer.Option(
            False, "--strict-channels",
            help="A grey image for a colour model (or the reverse) fails the file instead of being converted."),
        as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
        timeout: float = typer.Option(120.0, "--timeout", help="Seconds the model may take to load, or per image "
                                      "(it runs in a child process; past this the file fails)."),
        isolate: bool = typer.Option(True, "--isolate/--no-isolate", help="Run the model in a child process "
                                     "(--no-isolate: faster start, but a crashing runtime ends the command)."),
    ) -> None:
        from edgevit.errors import RuntimeHarnessError
        from edgevit.runtimes.predict import failure_line, resolve_target, run_predict, show_report

        if artifact is None and checkpoint is None:
            artifact, checkpoint, images = _model_given_first(list(images))
        if (artifact is None) == (checkpoint is None):
            raise typer.BadParameter("give exactly one of --artifact PATH or --checkpoint DIR (or an export or "
                                     "checkpoint folder as the first path: edgevit predict MODEL IMAGES...)")
        path, rt = resolve_target(artifact, checkpoint, runtime)
        report = run_predict(list(images), path, rt, topk, threads, strict_channels, isolate=isolate,
                             timeout=timeout)
        show_report(report, as_json)
        line = failure_line(report)
        if line:
            raise RuntimeHarnessError(line)

    @app.command("info")
    def info(
        path: Path = typer.Argument(..., help="Artifact file or folder, checkpoint folder, or a folder of them."),
        as_json: bool = typer.Option(False, "--json", help="Print the description as JSON."),
    ) -> None:
        """What an exported artifact or a checkpoint is: model and config, parameters, input shape/layout,
        preprocessing, labels, routing, precision, size, edgevit version and the validation report."""
        from edgevit.runtimes.base import expand_artifacts, is_checkpoint_dir
        from edgevit.runtimes.describe import describe_artifacts, show_descriptions

        if any(is_checkpoint_dir(p) for p in expand_artifacts(path)):
            from edgevit.inspect_checkpoint import describe_path

            descs = describe_path(path)
        else:  # artifacts only: stays torch-free
            descs = describe_artifacts(path)
        show_descriptions(descs, as_json)
