"""Asset bundles for the sample apps (`edgevit export --app android|ios`).

A bundle is one folder the app reads at start-up, and nothing else:

| file | android (`apps/android/app/src/main/assets/`) | ios (`apps/ios/EdgeVit/Resources/`) |
|---|---|---|
| model | `model.tflite` | `Model.mlpackage/` (Xcode compiles it to `Model.mlmodelc`) |
| `labels.txt` | one label per line, in class order | same |
| `edgevit.json` | the artifact contract (with `file` naming the bundled model) | same |
| `sample.png` | one real test image (8-bit RGB) the app classifies at launch | same |
| `eval.json` + `eval.bin` | an eval set for on-device accuracy: `{name, n, height, width, channels: 3, labels}` and the images as raw RGB bytes (N, H, W, 3), row-major | same |

`write_app_bundle` builds the bundle in a temporary folder beside the destination, checks it with
`check_app_bundle` (labels count == output size, model input == the contract's input shape and layout, every
file present), and only then swaps it into place, so a failed export never leaves a half-written bundle.
Converters and runtimes are imported lazily, inside the checks that need them.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from edgevit.errors import ExportError
from edgevit.runtimes.contract import CONTRACT_FILENAME, Contract, load_contract
from edgevit.runtimes.files import one_line, staging_dir, swap_dir

if TYPE_CHECKING:
    from edgevit.runtimes.evalset import EvalSet

APPS = ("android", "ios")
MODEL_NAMES = {"android": "model.tflite", "ios": "Model.mlpackage"}
APP_TARGETS = {"android": "tflite", "ios": "coreml"}  # the export target whose file each app runs
# What each app can feed and read: LiteRT's float32 buffers; Core ML's MLMultiArray of any numeric type (not an
# image input or a dictionary output).
APP_DTYPES = {"android": ("float32",), "ios": ("float32", "float16", "float64", "int32")}
LABELS_FILENAME = "labels.txt"
SAMPLE_FILENAME = "sample.png"
EVAL_JSON = "eval.json"
EVAL_BIN = "eval.bin"
MAX_EVAL_IMAGES = 1000  # keeps the app small: 1000 CIFAR images are 3 MB of RGB
REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_BUNDLE_DIRS = {
    "android": Path("apps/android/app/src/main/assets"),
    "ios": Path("apps/ios/EdgeVit/Resources"),
}

__all__ = ["APPS", "MODEL_NAMES", "check_app_bundle", "default_bundle_dir", "parse_labels", "write_app_bundle"]

_LINE_BREAK = re.compile(r"\r\n|\n|\r")


def parse_labels(text: str) -> list[str]:
    """`labels.txt` -> labels, by the one rule the apps share (Contract.kt and Contract.swift `parseLabels`).

    Lines end at "\n", "\r\n" or "\r" and at nothing else (str.splitlines would also split at U+2028, form
    feed, ...); trailing empty lines are dropped; every other character, spaces included, is part of a label.
    The golden cases in the apps' preprocess_golden.json pin the rule for all three languages.
    """
    lines = _LINE_BREAK.split(text)
    while lines and not lines[-1]:
        lines.pop()
    return lines


def default_bundle_dir(app: str) -> Path:
    """Where the sample app in this source tree reads its bundle from."""
    _check_app(app)
    return REPO_ROOT / DEFAULT_BUNDLE_DIRS[app]


def write_app_bundle(
    artifact: str | Path,
    contract: Contract,
    app: str,
    out: str | Path | None = None,
    *,
    sample: str | Path | np.ndarray | None = None,
    evalset: EvalSet | None = None,
    max_eval: int = MAX_EVAL_IMAGES,
) -> Path:
    """Write the asset bundle for `app` ('android' | 'ios') and return its folder.

    `artifact`: the exported model (android: the `.tflite` file; ios: the `.mlpackage` folder), or the
    export folder holding `contract.file`. `out`: the bundle folder (default: the sample app's asset folder
    in this source tree). `sample`: the image to bundle (a file or a uint8 array); by default the first image of
    the eval set, else a real digits test image (`edgevit/runtimes/data/digits_test.npz`).
    `evalset`: an `edgevit.runtimes.evalset.EvalSet` of same-size images the apps use to measure accuracy on the
    phone (at most `max_eval` images are bundled); by default the shipped digits test set when the contract's
    eval_set is digits, else none (the apps then report accuracy null). `max_eval=0` bundles none.

    Raises ExportError when the artifact is missing or the bundle would not be self-consistent.
    """
    _check_app(app)
    model_src = _resolve_artifact(Path(artifact), contract, app)
    dest = Path(out) if out is not None else default_bundle_dir(app)
    if out is None and not dest.parent.is_dir():
        raise ExportError(
            f"the {app} sample app is not in this installation ({dest.parent} does not exist); pass --out DIR"
        )
    for label in contract.labels:
        if "\n" in label or "\r" in label:
            raise ExportError(f"label {label!r} contains a line break: labels.txt holds one label per line")
    if contract.labels and not contract.labels[-1]:
        raise ExportError("the last label is empty: labels.txt would lose it (trailing empty lines are dropped)")

    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = staging_dir(dest.parent, f".{dest.name}.tmp-")
    try:
        model_name = MODEL_NAMES[app]
        if app == "android":
            shutil.copy2(model_src, tmp / model_name)
        else:
            shutil.copytree(model_src, tmp / model_name)
        (tmp / LABELS_FILENAME).write_text("".join(f"{label}\n" for label in contract.labels), encoding="utf-8")
        dataclasses.replace(contract, file=model_name).save(tmp / CONTRACT_FILENAME)
        ev = _default_evalset(evalset, contract) if max_eval > 0 else None
        if ev is not None:
            _write_evalset(tmp, ev, max_eval)
        if sample is None and ev is not None:
            sample = np.asarray(ev.images[0])
        _write_sample(tmp / SAMPLE_FILENAME, sample)
        problems = check_app_bundle(tmp, app)
        if problems:
            raise ExportError(f"the {app} app bundle is not self-consistent: " + "; ".join(problems))
        _carry_other_files(dest, tmp)
        if dest.is_symlink() or dest.is_file():
            raise ExportError(f"{dest} exists and is not a folder")
        swap_dir(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest


def check_app_bundle(folder: str | Path, app: str | None = None) -> list[str]:
    """Problems with an app bundle folder (empty when it is complete and self-consistent).

    `app` is inferred from the model file when not given. Checks: every file present; the contract loads;
    labels.txt == the contract's labels; the input shape agrees with layout/size/channels; the output size
    equals the number of labels; sample.png decodes; and the model itself, read by its export target's own
    `inspect()` (one input the app can feed, of the contract's shape; output size or classifier labels).
    """
    folder = Path(folder)
    if not folder.is_dir():
        return [f"{folder} is not a folder"]
    if app is None:
        found = [a for a in APPS if (folder / MODEL_NAMES[a]).exists()]
        if len(found) != 1:
            return [f"expected exactly one of {sorted(MODEL_NAMES.values())} in {folder}, found {len(found)}"]
        app = found[0]
    _check_app(app)
    model_name = MODEL_NAMES[app]
    problems = [
        f"{name} is missing"
        for name in (model_name, LABELS_FILENAME, CONTRACT_FILENAME, SAMPLE_FILENAME)
        if not (folder / name).exists()
    ]
    if problems:
        return problems
    try:
        contract = load_contract(folder / CONTRACT_FILENAME)
    except Exception as e:  # ContractError, or anything a malformed file raises
        return [f"{CONTRACT_FILENAME}: {e}"]

    labels = parse_labels((folder / LABELS_FILENAME).read_text(encoding="utf-8"))
    if labels != contract.labels:
        problems.append(f"{LABELS_FILENAME} ({len(labels)} lines) does not match the contract's {len(contract.labels)} labels")
    if contract.file != model_name:
        problems.append(f"contract file is {contract.file!r}, expected {model_name!r}")
    problems += _contract_shape_problems(contract)
    problems += _sample_problems(folder / SAMPLE_FILENAME)
    problems += _evalset_problems(folder, contract)
    problems += _model_problems(folder / model_name, contract, app)
    return problems


# ----------------------------------------------------------------------------------------------- helpers


def _check_app(app: str) -> None:
    if app not in APPS:
        raise ExportError(f"unknown app {app!r}; expected one of {APPS}")


def _resolve_artifact(artifact: Path, contract: Contract, app: str) -> Path:
    if artifact.is_dir() and artifact.suffix != ".mlpackage":
        artifact = artifact / contract.file
    if app == "android":
        if artifact.suffix != ".tflite" or not artifact.is_file():
            raise ExportError(f"the android app needs a .tflite file, got {artifact}")
    elif artifact.suffix != ".mlpackage" or not (artifact / "Manifest.json").is_file():
        raise ExportError(f"the ios app needs a .mlpackage folder, got {artifact}")
    return artifact


def _sample_image(sample: str | Path | np.ndarray | None) -> np.ndarray:
    """The sample as uint8 (H, W, 3)."""
    if sample is None:
        from importlib import resources

        with resources.as_file(resources.files("edgevit.runtimes") / "data" / "digits_test.npz") as p:
            image = np.load(p)["images"][0]
    elif isinstance(sample, np.ndarray):
        image = sample
    else:
        from PIL import Image

        try:
            with Image.open(sample) as im:
                image = np.asarray(im.convert("RGB"))
        except OSError as e:
            raise ExportError(f"cannot read the sample image {sample}: {e}") from None
    image = np.asarray(image)
    if image.dtype != np.uint8:
        if image.min() < 0 or image.max() > 255:
            raise ExportError("the sample image must be uint8 (0..255)")
        image = image.astype(np.uint8)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=-1)
    if image.ndim != 3 or image.shape[-1] not in (3, 4):
        raise ExportError(f"the sample image must be (H, W), (H, W, 3) or (H, W, 4), got {image.shape}")
    return np.ascontiguousarray(image[..., :3])


def _write_sample(path: Path, sample: str | Path | np.ndarray | None) -> None:
    """8-bit RGB PNG with no colour profile: Android and iOS decode it to the exact stored bytes."""
    from PIL import Image

    Image.fromarray(_sample_image(sample)).save(path, format="PNG")


def _default_evalset(evalset: EvalSet | None, contract: Contract) -> EvalSet | None:
    if evalset is not None:
        return evalset
    if contract.eval_set.split(":")[0].split("[")[0] == "digits":
        from edgevit.runtimes.evalset import shipped_digits

        return shipped_digits()
    return None


def _rgb_images(images: np.ndarray) -> np.ndarray:
    x = np.asarray(images)
    if x.dtype != np.uint8:
        raise ExportError(f"eval images must be uint8, got {x.dtype}")
    if x.ndim == 4 and x.shape[-1] == 1:
        x = x[..., 0]
    if x.ndim == 3:
        x = np.repeat(x[..., None], 3, axis=-1)
    if x.ndim != 4 or x.shape[-1] not in (3, 4):
        raise ExportError(f"eval images must be (N, H, W[, C]) of one size, got {x.shape}")
    return np.ascontiguousarray(x[..., :3])


def _write_evalset(folder: Path, ev: EvalSet, max_eval: int) -> None:
    """eval.bin: raw RGB bytes (N, H, W, 3); eval.json: its shape, name and labels (apps read both)."""
    images = _rgb_images(ev.images[:max_eval])
    labels = [int(v) for v in np.asarray(ev.labels[:max_eval]).reshape(-1)]
    if len(labels) != images.shape[0] or not labels:
        raise ExportError(f"eval set {ev.name!r}: {images.shape[0]} images but {len(labels)} labels")
    n, h, w, c = images.shape
    name = ev.name if n == len(ev) else f"{ev.name}[:{n}]"
    meta = {"name": name, "n": n, "height": h, "width": w, "channels": c, "file": EVAL_BIN, "labels": labels}
    (folder / EVAL_BIN).write_bytes(images.tobytes())
    (folder / EVAL_JSON).write_text(json.dumps(meta) + "\n", encoding="utf-8")


def _evalset_problems(folder: Path, c: Contract) -> list[str]:
    has_json, has_bin = (folder / EVAL_JSON).exists(), (folder / EVAL_BIN).exists()
    if not has_json and not has_bin:
        return []  # optional: the apps then report accuracy null
    if has_json != has_bin:
        return [f"{EVAL_JSON} and {EVAL_BIN} go together; only one is there"]
    try:
        meta = json.loads((folder / EVAL_JSON).read_text(encoding="utf-8"))
        n, h, w, ch = (int(meta[k]) for k in ("n", "height", "width", "channels"))
        labels = [int(v) for v in meta["labels"]]
    except (OSError, ValueError, KeyError, TypeError) as e:
        return [f"{EVAL_JSON} is malformed: {e}"]
    problems = []
    if ch != 3:
        problems.append(f"{EVAL_JSON}: channels must be 3 (RGB bytes), got {ch}")
    if len(labels) != n:
        problems.append(f"{EVAL_JSON}: n is {n} but there are {len(labels)} labels")
    if labels and not 0 <= min(labels) <= max(labels) < c.num_classes:
        problems.append(f"{EVAL_JSON}: labels outside 0..{c.num_classes - 1}")
    size = (folder / EVAL_BIN).stat().st_size
    if size != n * h * w * ch:
        problems.append(f"{EVAL_BIN} holds {size} bytes, expected {n}x{h}x{w}x{ch} = {n * h * w * ch}")
    return problems


def _carry_other_files(dest: Path, tmp: Path) -> None:
    """Keep files in the destination that are not part of a bundle (a README someone put there)."""
    if not dest.is_dir():
        return
    ours = {*MODEL_NAMES.values(), LABELS_FILENAME, CONTRACT_FILENAME, SAMPLE_FILENAME, EVAL_JSON, EVAL_BIN}
    for child in dest.iterdir():
        if child.name in ours or (tmp / child.name).exists():
            continue
        if child.is_dir():
            shutil.copytree(child, tmp / child.name, symlinks=True)
        else:
            shutil.copy2(child, tmp / child.name, follow_symlinks=False)


def _contract_shape_problems(c: Contract) -> list[str]:
    problems = []
    shape = c.input_shape
    pre = c.preprocess
    if len(shape) != 4:
        return [f"input shape {list(shape)} is not 4-D (N, C, H, W) or (N, H, W, C)"]
    if shape[0] != 1:
        problems.append(f"input batch is {shape[0]}; the apps run batch 1")
    hw, ch = (tuple(shape[2:4]), shape[1]) if c.layout == "NCHW" else (tuple(shape[1:3]), shape[3])
    if hw != tuple(pre.size):
        problems.append(f"input shape {list(shape)} ({c.layout}) does not match preprocess size {list(pre.size)}")
    if ch != pre.channels:
        problems.append(f"input shape {list(shape)} ({c.layout}) has {ch} channels, preprocess says {pre.channels}")
    out_size = math.prod(int(s) for s in c.output.get("shape", [])) if c.output.get("shape") else None
    if out_size is not None and out_size // max(shape[0], 1) != c.num_classes:
        problems.append(f"output shape {c.output['shape']} does not hold {c.num_classes} labels")
    return problems


def _sample_problems(path: Path) -> list[str]:
    from PIL import Image

    try:
        with Image.open(path) as im:
            im.load()
            if im.width < 1 or im.height < 1:
                return [f"{path.name} is empty"]
    except OSError as e:
        return [f"{path.name} does not decode: {e}"]
    return []


def _model_problems(path: Path, c: Contract, app: str) -> list[str]:
    """What the app needs from its model, read by the target's own `inspect()` (the export path's reader)."""
    import importlib

    from edgevit.errors import MissingDependencyError
    from edgevit.export.formats import get_format

    fmt = get_format(APP_TARGETS[app])
    try:
        mod = importlib.import_module(fmt.module)
        info = mod.inspect(path, weights=False) if app == "ios" else mod.inspect(path)
    except (ImportError, MissingDependencyError) as e:
        return [f"cannot verify {path.name}: {e}"]
    except Exception as e:  # a file the reader cannot parse
        return [f"{path.name} does not load: {one_line(str(e))}"]
    problems = []
    if info.num_inputs != 1:
        problems.append(f"{path.name} has {info.num_inputs} inputs; the app feeds one")
    if info.input_dtype not in APP_DTYPES[app]:
        problems.append(f"{path.name} input dtype is {info.input_dtype}, the app feeds {APP_DTYPES[app][0]}")
    elif tuple(info.input_shape) != c.input_shape:
        problems.append(f"{path.name} input shape {list(info.input_shape)} != contract {list(c.input_shape)} "
                        f"({c.layout})")
    if info.class_labels is not None:
        if info.class_labels != c.labels:
            problems.append(f"{path.name} classifier labels ({len(info.class_labels)}) differ from the contract's labels")
        return problems
    if info.output_dtype not in APP_DTYPES[app]:
        problems.append(f"{path.name} output dtype is {info.output_dtype}, the app reads {APP_DTYPES[app][0]}")
    elif None not in info.output_shape and math.prod(info.output_shape) // max(c.input_shape[0], 1) != c.num_classes:
        problems.append(f"{path.name} output {info.output_name!r} {list(info.output_shape)} does not hold "
                        f"{c.num_classes} labels")
    return problems
