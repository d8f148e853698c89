"""One model registry (timm's `@register_model` idea): names -> config factories, plus lazy model building.

`import edgevit` stays torch-free, and so do listing models and creating configs: the zoo is plain config
dataclasses. Torch (the model classes) is imported only when a model is built.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from edgevit.errors import ConfigError


@dataclass(frozen=True)
class ModelEntry:
    name: str
    family: str
    make_config: Callable[[], Any]  # returns the family's config dataclass with the registered defaults
    description: str = ""
    dense_twin: str | None = None  # the dense baseline this MoE model is compared with
    aliases: tuple[str, ...] = ()


_REGISTRY: dict[str, ModelEntry] = {}
_ALIASES: dict[str, str] = {}
_FAMILIES: dict[str, Callable[[Any], Any]] = {}  # family -> model class (called with its config)


def register_family(family: str, model_cls: Callable[[Any], Any]) -> None:
    _FAMILIES[family] = model_cls


def register_model(
    name: str, *, family: str, dense_twin: str | None = None, aliases: tuple[str, ...] = ()
) -> Callable[[Callable[[], Any]], Callable[[], Any]]:
    """Decorator for a zero-argument function returning the model's config dataclass."""

    def deco(fn: Callable[[], Any]) -> Callable[[], Any]:
        if name in _REGISTRY:
            raise ConfigError(f"model {name!r} registered twice")
        doc = (fn.__doc__ or "").strip().splitlines()
        _REGISTRY[name] = ModelEntry(name, family, fn, doc[0] if doc else "", dense_twin, aliases)
        for a in aliases:
            _ALIASES[a] = name
        return fn

    return deco


def _ensure_loaded() -> None:
    import edgevit.models.zoo  # noqa: F401  (registers every model's config; no torch)


def resolve_name(name: str) -> str:
    _ensure_loaded()
    if name in _REGISTRY:
        return name
    if name in _ALIASES:
        return _ALIASES[name]
    close = fnmatch.filter(list(_REGISTRY), f"*{name.split('_')[0]}*")[:8]
    hint = f" Close: {', '.join(close)}." if close else ""
    raise ConfigError(f"unknown model {name!r}.{hint} See `edgevit models` for the full list.")


def get_model_entry(name: str) -> ModelEntry:
    return _REGISTRY[resolve_name(name)]


def list_models(pattern: str = "*", include_aliases: bool = False) -> list[str]:
    """Registered model names matching a shell-style pattern, sorted."""
    _ensure_loaded()
    names = list(_REGISTRY) + (list(_ALIASES) if include_aliases else [])
    return sorted(n for n in names if fnmatch.fnmatch(n, pattern))


def find_models(query: str = "*") -> list[str]:
    """Registered names for a user's query, sorted: a plain word matches as a substring of a name or an alias
    (`vit` lists every ViT, `mlit` the mMoE-ViTs), a query with a wildcard (`*?[`) is a shell-style pattern."""
    _ensure_loaded()
    pattern = query if any(c in query for c in "*?[") else f"*{query}*"
    hits = {n for n in _REGISTRY if fnmatch.fnmatch(n, pattern)}
    hits |= {target for alias, target in _ALIASES.items() if fnmatch.fnmatch(alias, pattern)}
    return sorted(hits)


def create_config(name: str, **overrides: Any) -> Any:
    """The registered config with `overrides` applied; unknown fields are a ConfigError."""
    entry = get_model_entry(name)
    cfg = entry.make_config()
    return cfg.replace(**overrides) if overrides else cfg


def create_model(name: str, **overrides: Any) -> Any:
    """Build a registered model: `create_model("mmoe_vit_xxs", num_classes=100)`."""
    return build_model(create_config(name, **overrides))


def build_model(cfg: Any) -> Any:
    """Build a model from its config dataclass (what a checkpoint's config.json rebuilds)."""
    from edgevit.models import load_families

    load_families()
    try:
        model_cls = _FAMILIES[cfg.family]
    except KeyError:
        raise ConfigError(f"unknown model family {cfg.family!r}; known: {sorted(_FAMILIES)}") from None
    return model_cls(cfg)
