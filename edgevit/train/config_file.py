"""`edgevit train --config run.yaml`: a run's arguments from a YAML file (the `args.yaml` a run saves is one).

Keys are TrainArgs fields or the flags' spellings (`batch-size`, `set`); flags given on the command line win
over the file. Unknown keys are an error naming them, so a typo never silently trains a different run.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from edgevit.errors import ConfigError
from edgevit.train.recipe import TrainArgs, parse_overrides

ALIASES = {"set": "overrides", "weight-decay": "weight_decay"}
NOT_FROM_FILE = ("task",)  # the command decides (train or pretrain)


def load_run_config(path: str | Path) -> dict[str, Any]:
    """The file's arguments as a `given` dict (only the keys it sets)."""
    import yaml

    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise ConfigError(f"cannot read --config {path}: {e.strerror or e}") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"--config {path} is not valid YAML: {str(e).splitlines()[0]}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"--config {path} must hold a mapping of argument: value, got {type(data).__name__}")
    fields = {f.name for f in dataclasses.fields(TrainArgs)}
    given: dict[str, Any] = {}
    for raw, value in data.items():
        key = ALIASES.get(str(raw), str(raw).lstrip("-").replace("-", "_"))
        if key not in fields:
            raise ConfigError(f"--config {path}: unknown argument {raw!r}")
        if key in NOT_FROM_FILE or value is None:
            continue
        if key == "overrides":
            value = _overrides(value, path)
        given[key] = value
    return given


def _overrides(value: Any, path: Path) -> dict[str, Any]:
    if isinstance(value, dict):
        return {str(k): tuple(v) if isinstance(v, list) else v for k, v in value.items()}
    if isinstance(value, list):
        return parse_overrides([str(v) for v in value])
    raise ConfigError(f"--config {path}: 'set' is a mapping or a list of key=value, got {value!r}")
