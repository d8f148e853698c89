"""The artifact contract (`edgevit.json`) and the one preprocessing routine every consumer uses.

Why this lives in `runtimes/`: a Raspberry Pi with numpy and one runtime must be able to read the contract
and preprocess images exactly as the training/eval pipeline did, with no torch. The torch side
(`edgevit.data`) reproduces `preprocess_images` in torch and a test pins the two together.

Contract layout (format_version 1)::

    {
      "format_version": 1,
      "edgevit_version": "0.1.0",
      "model": {"name": "mmoe_vit_xxs", "family": "mmoe_vit", "config": {...}, "params": 652000},
      "labels": ["0", "1", ...],
      "input":  {"name": "input", "shape": [1, 3, 36, 36], "layout": "NCHW", "dtype": "float32"},
      "output": {"name": "logits", "shape": [1, 10]},
      "preprocess": {"size": [36, 36], "resize": "bilinear", "channels": 3,
                     "mean": [..], "std": [..], "scale": 0.00392156862745098},
      "target": "onnx", "file": "model.onnx", "precision": "fp32", "routing": "static",
      "source": {"checkpoint": "...", "sha256": "..."},
      "eval_set": "digits",
      "validation": {...}
    }
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from edgevit.errors import ContractError
from edgevit.runtimes.files import atomic_write_text, confined_path, one_line, read_json

CONTRACT_FILENAME = "edgevit.json"
SCHEMA_FILE = "schema/edgevit.schema.json"  # package data of edgevit.runtimes; the apps read the same file
FORMAT_VERSION = 1
LAYOUTS = ("NCHW", "NHWC")
RESIZE_MODES = ("bilinear", "nearest")
MAX_SIDE = 4096  # pixels per side of a model input (the schema says the same)
MAX_INPUT_PIXELS = 2048 * 2048  # height x width of a model input: bounds the float32 buffers per image


@dataclass
class Preprocess:
    """How raw uint8 images become model input. Saved as a checkpoint's `preprocess.json` too."""

    size: tuple[int, int]
    channels: int = 3
    mean: tuple[float, ...] = (0.5, 0.5, 0.5)
    std: tuple[float, ...] = (0.5, 0.5, 0.5)
    resize: str = "bilinear"  # bilinear (half-pixel centres, no antialias: torch's align_corners=False) | nearest
    scale: float = 1.0 / 255.0  # uint8 -> [0, 1] before mean/std

    def __post_init__(self) -> None:
        if isinstance(self.size, (str, bytes)) or len(self.size) != 2:
            raise ContractError(f"preprocess size must be [height, width], got {self.size!r}")
        if not isinstance(self.channels, int) or isinstance(self.channels, bool):
            raise ContractError(f"channels must be 1 or 3, got {self.channels!r}")
        self.size = (int(self.size[0]), int(self.size[1]))
        self.mean = tuple(float(m) for m in self.mean)
        self.std = tuple(float(s) for s in self.std)
        self.scale = float(self.scale)
        if self.resize not in RESIZE_MODES:
            raise ContractError(f"unknown resize rule {self.resize!r}; expected one of {RESIZE_MODES}")
        if self.channels not in (1, 3):
            raise ContractError(f"channels must be 1 or 3, got {self.channels}")
        if len(self.mean) != self.channels or len(self.std) != self.channels:
            raise ContractError("mean/std must have one value per channel")
        check_preprocess_values(self)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["size"] = list(self.size)
        d["mean"] = list(self.mean)
        d["std"] = list(self.std)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Preprocess:
        known = {k: d[k] for k in ("size", "channels", "mean", "std", "resize", "scale") if k in d}
        if "size" not in known:
            raise ContractError("preprocess needs 'size'")
        return cls(**known)


@dataclass
class Contract:
    """Everything a runtime needs to run an artifact without guessing."""

    model: dict[str, Any]
    labels: list[str]
    input: dict[str, Any]
    output: dict[str, Any]
    preprocess: Preprocess
    target: str
    file: str
    precision: str = "fp32"
    routing: str = "none"
    source: dict[str, Any] = field(default_factory=dict)
    eval_set: str = "digits"
    validation: dict[str, Any] = field(default_factory=dict)
    edgevit_version: str = ""
    format_version: int = FORMAT_VERSION
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def layout(self) -> str:
        return str(self.input.get("layout", "NCHW"))

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(int(s) for s in self.input["shape"])

    @property
    def num_classes(self) -> int:
        return len(self.labels)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["preprocess"] = self.preprocess.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Contract:
        try:
            fv = int(d.get("format_version", FORMAT_VERSION))
            if fv > FORMAT_VERSION:
                raise ContractError(f"contract format_version {fv} is newer than this edgevit ({FORMAT_VERSION})")
            c = cls(
                model=dict(d["model"]),
                labels=[str(x) for x in d["labels"]],
                input=dict(d["input"]),
                output=dict(d["output"]),
                preprocess=Preprocess.from_dict(d["preprocess"]),
                target=str(d["target"]),
                file=str(d["file"]),
                precision=str(d.get("precision", "fp32")),
                routing=str(d.get("routing", "none")),
                source=dict(d.get("source", {})),
                eval_set=str(d.get("eval_set", "digits")),
                validation=dict(d.get("validation", {})),
                edgevit_version=str(d.get("edgevit_version", "")),
                format_version=fv,
                extra=dict(d.get("extra", {})),
            )
        except KeyError as e:
            raise ContractError(f"contract is missing the field {e.args[0]!r}") from None
        except (TypeError, ValueError) as e:
            if isinstance(e, ContractError):
                raise
            raise ContractError(f"contract is malformed: {e}") from None
        if c.layout not in LAYOUTS:
            raise ContractError(f"input layout {c.layout!r} is not one of {LAYOUTS}")
        check_values(c)
        return c

    def model_file(self, folder: str | Path) -> Path:
        """The model file named by `file`, inside `folder` (the contract's own folder) and nowhere else."""
        try:
            return confined_path(folder, self.file)
        except ValueError as e:
            raise ContractError(f"{CONTRACT_FILENAME}: {e}") from None

    def save(self, path: str | Path) -> Path:
        """Write atomically (temp file, then rename)."""
        path = Path(path)
        if path.is_dir():
            path = path / CONTRACT_FILENAME
        atomic_write_text(path, json.dumps(self.to_dict(), indent=2) + "\n")
        return path


def find_contract(artifact: str | Path) -> Path:
    """The contract for an artifact file or folder: `edgevit.json` in the folder or beside the file."""
    p = Path(artifact)
    candidates = [p / CONTRACT_FILENAME] if p.is_dir() else [p.parent / CONTRACT_FILENAME]
    if p.suffix == ".json" and p.is_file():
        candidates.insert(0, p)
    for c in candidates:
        if c.is_file():
            return c
    where = "in" if p.is_dir() else "beside"
    raise ContractError(f"no {CONTRACT_FILENAME} {where} {artifact}: give an export folder "
                        "(CHECKPOINT/export/<target>-<precision>) or the model file inside one")


def load_contract(artifact: str | Path) -> Contract:
    """Load and check the contract for an artifact file, its folder, or the json itself.

    Untrusted input: read as a capped regular file, validated against the published JSON Schema, then the
    value checks the schema cannot express (`check_values`), and `file` confined to the contract's folder.
    """
    path = find_contract(artifact)
    try:
        data = read_json(path)
    except (OSError, ValueError) as e:
        raise ContractError(str(e) if isinstance(e, ValueError) else f"cannot read {path}: {e}") from None
    if not isinstance(data, dict):
        raise ContractError(f"{path} does not hold a JSON object")
    validate_schema(data, path)
    try:
        c = Contract.from_dict(data)
    except ContractError as e:
        raise ContractError(f"{path}: {e}") from None
    c.model_file(path.parent)
    return c


# ------------------------------------------------------------------------------------------------- checks


@functools.cache
def contract_schema() -> dict[str, Any]:
    """The published JSON Schema of `edgevit.json` (runtimes/schema/edgevit.schema.json)."""
    return json.loads(resources.files("edgevit.runtimes").joinpath(SCHEMA_FILE).read_text(encoding="utf-8"))


def validate_schema(data: dict[str, Any], where: str | Path = CONTRACT_FILENAME) -> None:
    """ContractError naming the first field that breaks the schema (jsonschema's most relevant error)."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(contract_schema())
    err = jsonschema.exceptions.best_match(validator.iter_errors(data))
    if err is not None:
        field_path = "/".join(str(p) for p in err.absolute_path) or "(top level)"
        raise ContractError(f"{where}: {field_path}: {one_line(err.message, 200)}")


def check_preprocess_values(pre: Preprocess) -> None:
    """Numbers the schema cannot bound: finite mean/std/scale, std > 0, sides and total pixels in range."""
    h, w = pre.size
    if not (1 <= h <= MAX_SIDE and 1 <= w <= MAX_SIDE) or h * w > MAX_INPUT_PIXELS:
        raise ContractError(f"preprocess size {[h, w]} is out of range (each side 1..{MAX_SIDE}, at most "
                            f"{MAX_INPUT_PIXELS} pixels)")
    if not all(math.isfinite(v) for v in (*pre.mean, *pre.std)):
        raise ContractError(f"preprocess mean {list(pre.mean)} / std {list(pre.std)} must be finite numbers")
    if not all(s > 0 for s in pre.std):
        raise ContractError(f"preprocess std {list(pre.std)} must be > 0 (it divides)")
    if not (math.isfinite(pre.scale) and pre.scale > 0):
        raise ContractError(f"preprocess scale {pre.scale} must be a finite number > 0")


def check_values(c: Contract) -> None:
    """Cross-field checks: input shape agrees with preprocessing, output size with the labels."""
    shape = c.input_shape
    if len(shape) != 4 or any(s < 1 for s in shape):
        raise ContractError(f"input shape {list(shape)} must be 4 positive sizes ({c.layout})")
    hw_c = (shape[2], shape[3], shape[1]) if c.layout == "NCHW" else (shape[1], shape[2], shape[3])
    want = (*c.preprocess.size, c.preprocess.channels)
    if hw_c != want:
        raise ContractError(f"input shape {list(shape)} ({c.layout}) does not match preprocess size "
                            f"{list(c.preprocess.size)} with {c.preprocess.channels} channel(s)")
    if not c.labels:
        raise ContractError("the contract lists no labels")
    out = c.output.get("shape")
    if isinstance(out, list) and out and out[-1] != len(c.labels):
        raise ContractError(f"output shape {out} does not match the {len(c.labels)} labels")


# ----------------------------------------------------------------------------------------------- preprocessing


def _resize_weights(in_size: int, out_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Index/weight tables for torch-style bilinear (align_corners=False, no antialias)."""
    scale = in_size / out_size
    src = (np.arange(out_size, dtype=np.float64) + 0.5) * scale - 0.5
    src = np.clip(src, 0.0, None)
    i0 = np.minimum(np.floor(src).astype(np.int64), in_size - 1)
    i1 = np.minimum(i0 + 1, in_size - 1)
    w1 = (src - i0).astype(np.float32)
    return i0, i1, w1


def resize_batch(images: np.ndarray, size: tuple[int, int], mode: str = "bilinear") -> np.ndarray:
    """Resize images (N, H, W, C) to `size`, matching torch.nn.functional.interpolate; float32 out.

    Gather first: only the rows and columns the interpolation reads (at most 2 per output pixel) are taken
    from the input and converted to float, so a huge (or absurdly wide) image never becomes a huge float
    intermediate; the arithmetic on the gathered pixels is the same, so results are bitwise unchanged.
    """
    n, h, w, c = images.shape
    oh, ow = size
    if (h, w) == (oh, ow):
        return images.astype(np.float32, copy=False)
    if mode == "nearest":
        ys = np.minimum(np.floor(np.arange(oh) * (h / oh)).astype(np.int64), h - 1)
        xs = np.minimum(np.floor(np.arange(ow) * (w / ow)).astype(np.int64), w - 1)
        return images[:, ys[:, None], xs[None, :]].astype(np.float32, copy=False)
    y0, y1, wy = _resize_weights(h, oh)
    x0, x1, wx = _resize_weights(w, ow)
    rows, cols = np.unique(np.concatenate([y0, y1])), np.unique(np.concatenate([x0, x1]))
    sub = images[:, rows[:, None], cols[None, :]].astype(np.float32, copy=False)  # one gather, no full rows
    y0, y1 = np.searchsorted(rows, y0), np.searchsorted(rows, y1)
    x0, x1 = np.searchsorted(cols, x0), np.searchsorted(cols, x1)
    top = sub[:, y0] * (1 - wy)[None, :, None, None] + sub[:, y1] * wy[None, :, None, None]
    return top[:, :, x0] * (1 - wx)[None, None, :, None] + top[:, :, x1] * wx[None, None, :, None]


def preprocess_images(images: np.ndarray | list[np.ndarray], pre: Preprocess, layout: str = "NCHW") -> np.ndarray:
    """Raw images -> model input, float32.

    `images`: uint8 (or float in [0, 255]) as (N, H, W), (N, H, W, C) or a list of (H, W[, C]) arrays of
    possibly different sizes. Grey images are repeated to RGB when the model wants 3 channels; RGB images are
    averaged to grey when it wants 1. Steps: to float -> resize -> channels -> * scale -> (x - mean) / std.
    """
    if isinstance(images, list):
        return np.concatenate([preprocess_images(im[None], pre, layout) for im in images], axis=0)
    x = np.asarray(images)
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4:
        raise ContractError(f"expected images shaped (N, H, W[, C]), got {x.shape}")
    if x.shape[-1] == 4:  # RGBA: drop alpha
        x = x[..., :3]
    if x.shape[-1] not in (1, 3):
        raise ContractError(f"images must have 1 or 3 channels, got {x.shape[-1]}")
    x = resize_batch(x, pre.size, pre.resize)  # gathers before it converts to float (bounded memory)
    if pre.channels == 3 and x.shape[-1] == 1:
        x = np.repeat(x, 3, axis=-1)
    elif pre.channels == 1 and x.shape[-1] == 3:
        x = x.mean(axis=-1, keepdims=True)
    x = x * np.float32(pre.scale)
    x = (x - np.asarray(pre.mean, np.float32)) / np.asarray(pre.std, np.float32)
    if layout == "NCHW":
        x = x.transpose(0, 3, 1, 2)
    elif layout != "NHWC":
        raise ContractError(f"unknown layout {layout!r}")
    return np.ascontiguousarray(x, dtype=np.float32)


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)
