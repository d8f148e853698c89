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

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgevit.errors import ContractError
from edgevit.runtimes.files import atomic_write_text

CONTRACT_FILENAME = "edgevit.json"
FORMAT_VERSION = 1
LAYOUTS = ("NCHW", "NHWC")
RESIZE_MODES = ("bilinear", "nearest")


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
        self.size = (int(self.size[0]), int(self.size[1]))
        self.mean = tuple(float(m) for m in self.mean)
        self.std = tuple(float(s) for s in self.std)
        if self.resize not in RESIZE_MODES:
            raise ContractError(f"unknown resize rule {self.resize!r}; expected one of {RESIZE_MODES}")
        if self.channels not in (1, 3):
            raise ContractError(f"channels must be 1 or 3, got {self.channels}")
        if len(self.mean) != self.channels or len(self.std) != self.channels:
            raise ContractError("mean/std must have one value per channel")

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
        return c

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
    raise ContractError(f"no {CONTRACT_FILENAME} found for {artifact} (every edgevit artifact ships one beside it)")


def load_contract(artifact: str | Path) -> Contract:
    """Load and check the contract for an artifact file, its folder, or the json itself."""
    path = find_contract(artifact)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise ContractError(f"cannot read {path}: {e}") from None
    if not isinstance(data, dict):
        raise ContractError(f"{path} does not hold a JSON object")
    return Contract.from_dict(data)


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
    """Resize float images (N, H, W, C) to `size`, matching torch.nn.functional.interpolate."""
    n, h, w, c = images.shape
    oh, ow = size
    if (h, w) == (oh, ow):
        return images
    if mode == "nearest":
        ys = np.minimum(np.floor(np.arange(oh) * (h / oh)).astype(np.int64), h - 1)
        xs = np.minimum(np.floor(np.arange(ow) * (w / ow)).astype(np.int64), w - 1)
        return images[:, ys][:, :, xs]
    y0, y1, wy = _resize_weights(h, oh)
    x0, x1, wx = _resize_weights(w, ow)
    top = images[:, y0] * (1 - wy)[None, :, None, None] + images[:, y1] * wy[None, :, None, None]
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
    x = x.astype(np.float32)
    x = resize_batch(x, pre.size, pre.resize)
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
