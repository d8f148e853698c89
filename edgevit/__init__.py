"""edgevit: tiny vision transformers from training to a phone or a Raspberry Pi.

This module stays light (no torch import): `import edgevit.runtimes` runs it first on devices that have
numpy and a runtime only. `create_model` / `list_models` are resolved lazily from `edgevit.registry`.

Folders map to import names (setuptools package-dir): `edgevit/` -> `edgevit`, `export/` -> `edgevit.export`,
`runtimes/` -> `edgevit.runtimes`.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = ["__version__", "create_model", "list_models", "register_model"]


def __getattr__(name: str) -> Any:
    if name in ("create_model", "list_models", "register_model", "get_model_entry"):
        from edgevit import registry

        return getattr(registry, name)
    raise AttributeError(f"module 'edgevit' has no attribute {name!r}")
