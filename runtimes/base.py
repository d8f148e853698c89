"""The one harness interface every runtime implements, the registry of runtimes, and artifact resolution.

A harness loads one artifact (model file + its `edgevit.json` contract), preprocesses raw images *only* by the
contract, runs a float32 batch and returns logits::

    h = open_harness("out/onnx", runtime="onnx", threads=1)   # constructed and loaded
    logits = h.predict(uint8_images)                            # preprocess by the contract + run
    logits = h.run(h.preprocess(uint8_images))                  # the same, in two steps
    h.info()                                                    # RuntimeInfo(name, version, threads, provider)
    h.close()

Subclasses implement `_load()` and `_run(x) -> logits` (and `_prepare()` for imports kept out of the timed
load), and set `name`, `suffixes`, `extra` (the pip extra that
brings the runtime). Registry entries are "module:Class" strings imported on demand, so listing runtimes imports
no runtime package (and `torch` maps to `edgevit.torch_harness`, outside this torch-free package).
"""

from __future__ import annotations

import importlib
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from edgevit.errors import ContractError, RuntimeHarnessError
from edgevit.runtimes.contract import CONTRACT_FILENAME, Contract, load_contract, preprocess_images

#: runtime name -> "module:Class"; imported lazily by `get_harness`.
HARNESSES: dict[str, str] = {
    "onnx": "edgevit.runtimes.onnx:OnnxHarness",
    "tflite": "edgevit.runtimes.tflite:TFLiteHarness",
    "coreml": "edgevit.runtimes.coreml:CoreMLHarness",
    "executorch": "edgevit.runtimes.executorch:ExecuTorchHarness",
    "torch": "edgevit.torch_harness:TorchHarness",
}

#: file suffix -> runtime name (a folder is looked up through its contract's `file`).
SUFFIX_RUNTIME: dict[str, str] = {
    ".onnx": "onnx",
    ".tflite": "tflite",
    ".mlpackage": "coreml",
    ".mlmodel": "coreml",
    ".mlmodelc": "coreml",
    ".pte": "executorch",
}

RUNTIME_NAMES = tuple(HARNESSES)


class UnsupportedPlatformError(RuntimeHarnessError):
    """The runtime cannot run on this machine at all (e.g. Core ML prediction off macOS): not a broken file."""


@dataclass
class RuntimeInfo:
    """What ran the model; goes into every result's `runtime` field."""

    name: str
    version: str
    threads: int | None
    provider: str | None = None  # onnxruntime provider / TFLite delegate / Core ML compute units / backend
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Harness:
    """Base class: one loaded artifact in one runtime. Use `open_harness` to get a loaded one."""

    name: ClassVar[str] = ""
    suffixes: ClassVar[tuple[str, ...]] = ()
    extra: ClassVar[str] = "pi"

    def __init__(self, artifact: str | Path, *, threads: int | None = None,
                 options: dict[str, Any] | None = None) -> None:
        self.artifact = Path(artifact)
        self.threads = threads if threads and threads > 0 else None
        self.options: dict[str, Any] = dict(options or {})
        self.contract, self.model_path = self._resolve(self.artifact)
        self.fixed_batch: int | None = None  # set by _load when the model accepts only one batch size
        self.load_time_ms: float | None = None
        self._loaded = False

    # ---------------------------------------------------------------- to implement
    def _prepare(self) -> None:
        """Import the runtime's modules (not part of the timed load)."""

    def _load(self) -> None:
        raise NotImplementedError

    def _run(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def package(self) -> str:
        """The distribution that runs the model (its version is `version()`), recorded in results."""
        return ""

    def version(self) -> str:
        """`package()`'s installed version, read from its metadata (no import: coremltools, for one, is slow to
        import and useless off macOS); "" when unknown."""
        from importlib import metadata

        try:
            return metadata.version(self.package()) if self.package() else ""
        except metadata.PackageNotFoundError:
            return ""

    def provider(self) -> str | None:
        return None

    # ---------------------------------------------------------------- shared behaviour
    def _resolve(self, artifact: Path) -> tuple[Contract, Path]:
        return resolve_artifact(artifact)

    def load(self) -> Harness:
        """Load the model (timed into `load_time_ms`); idempotent."""
        if not self._loaded:
            if not self.model_path.exists():
                raise RuntimeHarnessError(f"model file {self.model_path} does not exist")
            self._prepare()
            t0 = time.perf_counter()
            self._load()
            self.load_time_ms = (time.perf_counter() - t0) * 1000.0
            self._loaded = True
        return self

    def preprocess(self, images: np.ndarray | list[np.ndarray]) -> np.ndarray:
        """Raw uint8 images (N,H,W[,C]) -> float32 model input, by the contract and nothing else."""
        return preprocess_images(images, self.contract.preprocess, self.contract.layout)

    def run(self, x: np.ndarray) -> np.ndarray:
        """Preprocessed float32 batch (N, ...) -> logits (N, num_classes) as float32. Any N."""
        self.load()
        x = np.ascontiguousarray(x, dtype=np.float32)
        fb = self.fixed_batch
        if fb is None or x.shape[0] == fb:
            return self._check_out(self._run(x), x.shape[0])
        outs = []
        for i in range(0, x.shape[0], fb):
            chunk = x[i:i + fb]
            n = chunk.shape[0]
            if n < fb:  # pad the last chunk with copies of its first row
                chunk = np.concatenate([chunk, np.repeat(chunk[:1], fb - n, axis=0)], axis=0)
            outs.append(self._check_out(self._run(chunk), fb)[:n])
        return np.concatenate(outs, axis=0)

    def predict(self, images: np.ndarray | list[np.ndarray], batch_size: int = 64) -> np.ndarray:
        """Raw images -> logits, in chunks of `batch_size`."""
        x = self.preprocess(images)
        if x.shape[0] <= batch_size:
            return self.run(x)
        return np.concatenate([self.run(x[i:i + batch_size]) for i in range(0, x.shape[0], batch_size)])

    def _check_out(self, y: Any, n: int) -> np.ndarray:
        y = np.asarray(y, dtype=np.float32)
        y = y.reshape(y.shape[0], -1) if y.ndim > 2 else y
        if y.ndim != 2 or y.shape[0] != n or y.shape[1] != self.contract.num_classes:
            raise ContractError(
                f"{self.model_path.name}: output shape {tuple(y.shape)} does not match the contract "
                f"({n}, {self.contract.num_classes} classes)")
        if not np.isfinite(y).all():  # never report a NaN% prediction or an "ok" bench of a broken model
            raise RuntimeHarnessError(f"{self.model_path.name}: the model produced non-finite outputs (NaN or Inf)")
        return y

    def check_input_shape(self, model_shape: tuple[Any, ...]) -> None:
        """Compare the model's declared input shape (ints; None/str/-1 = dynamic) with the contract."""
        want = self.contract.input_shape
        if len(model_shape) != len(want):
            raise ContractError(f"{self.model_path.name}: model input has rank {len(model_shape)}, "
                                f"the contract says {list(want)}")
        for got, exp in zip(model_shape[1:], want[1:], strict=True):
            if isinstance(got, int) and got > 0 and got != exp:
                raise ContractError(f"{self.model_path.name}: model input shape {list(model_shape)} does not "
                                    f"match the contract's {list(want)} ({self.contract.layout})")

    def info(self) -> RuntimeInfo:
        info = RuntimeInfo(self.name, self.version(), self.threads, self.provider())
        if self.package():
            info.extra["package"] = self.package()
        return info

    def size_bytes(self) -> int:
        return path_size(self.model_path)

    def close(self) -> None:
        """Release the runtime's objects."""

    def __enter__(self) -> Harness:
        return self.load()

    def __exit__(self, *exc: object) -> None:
        self.close()


# -------------------------------------------------------------------------------------------- artifacts


def path_size(path: Path) -> int:
    """Bytes of a file, or of every file in a folder (a .mlpackage is a folder)."""
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size if path.exists() else 0


def resolve_artifact(artifact: str | Path) -> tuple[Contract, Path]:
    """An artifact file or its folder -> (contract, model file path)."""
    p = Path(artifact)
    if not p.exists():
        raise RuntimeHarnessError(f"artifact {p} does not exist")
    if p.suffix in SUFFIX_RUNTIME or (p.is_file() and p.suffix != ".json"):
        contract, model = load_contract(p), p  # the file given wins over the contract's `file`
    elif p.is_file():  # the edgevit.json itself
        contract = load_contract(p)
        model = contract.model_file(p.parent)
    else:
        contract = load_contract(p)
        model = contract.model_file(p)
    return contract, model


def is_checkpoint_dir(path: Path) -> bool:
    return path.is_dir() and not (path / CONTRACT_FILENAME).exists() and (path / "config.json").exists()


def runtime_for_path(path: str | Path) -> str:
    """Which runtime runs this artifact: by file suffix, or through a folder's contract; checkpoints -> torch."""
    p = Path(path)
    if p.suffix in SUFFIX_RUNTIME:
        return SUFFIX_RUNTIME[p.suffix]
    if is_checkpoint_dir(p):
        return "torch"
    contract, model = resolve_artifact(p)
    if model.suffix in SUFFIX_RUNTIME:
        return SUFFIX_RUNTIME[model.suffix]
    if contract.target in HARNESSES:
        return contract.target
    raise RuntimeHarnessError(f"cannot tell which runtime runs {p} (file {contract.file!r}); pass --runtime")


def expand_artifacts(path: str | Path) -> list[Path]:
    """A folder of exported artifacts (one sub-folder each) -> those sub-folders; anything else -> itself."""
    p = Path(path)
    if p.is_dir() and not (p / CONTRACT_FILENAME).exists() and not is_checkpoint_dir(p):
        subs = sorted(d for d in p.iterdir() if (d / CONTRACT_FILENAME).exists() or is_checkpoint_dir(d))
        if subs:
            return subs
    return [p]


def get_harness(runtime: str) -> type[Harness]:
    """The harness class for a runtime name (imports its module, not the runtime package itself)."""
    if runtime not in HARNESSES:
        raise RuntimeHarnessError(f"unknown runtime {runtime!r}; expected one of {', '.join(HARNESSES)}")
    module, cls = HARNESSES[runtime].split(":")
    return getattr(importlib.import_module(module), cls)


def open_harness(artifact: str | Path, runtime: str | None = None, *, threads: int | None = None,
                 options: dict[str, Any] | None = None, load: bool = True) -> Harness:
    """Construct (and by default load) the harness for an artifact; runtime inferred from the file if None."""
    runtime = runtime or runtime_for_path(artifact)
    h = get_harness(runtime)(artifact, threads=threads, options=options)
    return h.load() if load else h
