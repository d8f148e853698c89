"""One exception type per stage; the CLI turns any of them into one clear line and a non-zero exit.

Torch-free on purpose: `edgevit.runtimes` (which runs on devices without torch) raises these too.
"""

from __future__ import annotations


class EdgevitError(Exception):
    """Base class: a problem the user can fix (bad input, missing dependency), not a bug."""


class ConfigError(EdgevitError):
    """Unknown model name, bad config field or override."""


class DataError(EdgevitError):
    """Unknown dataset spec, missing or malformed dataset folder."""


class CheckpointError(EdgevitError):
    """Missing, corrupt or mismatched checkpoint."""


class TrainError(EdgevitError):
    """Training cannot go on (the loss or the model diverged); the message says what to change."""


class ExportError(EdgevitError):
    """A converter rejected the model, or a target flag is unsupported."""


class ValidationError(EdgevitError):
    """An exported artifact does not match the PyTorch model within tolerance."""


class RuntimeHarnessError(EdgevitError):
    """A runtime could not load or run an artifact, or is not installed."""


class ContractError(EdgevitError, ValueError):
    """The artifact contract (edgevit.json) is missing, malformed, or does not match its model."""


class MissingDependencyError(EdgevitError, ImportError):
    """An optional dependency is not installed; the message names the extra that brings it."""

    def __init__(self, package: str, extra: str, purpose: str = "") -> None:
        what = f" for {purpose}" if purpose else ""
        super().__init__(
            f"{package} is needed{what} but is not installed: pip install 'edgevit[{extra}]'"
        )
        self.package = package
        self.extra = extra


def require(module: str, extra: str, purpose: str = "", package: str | None = None):
    """Import an optional module lazily, or raise MissingDependencyError naming the extra to install."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingDependencyError(package or module, extra, purpose) from None
