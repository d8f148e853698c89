"""One bench job: what to bench and how, as one dataclass that travels from the CLI to the process that runs it.

`edgevit bench` (typer) builds a `BenchJob` per artifact x runtime x threads; the child process
(`edgevit.runtimes.isolate`) and an ssh device run `python -m edgevit.runtimes bench` with the job's own
`to_argv()`, and the device side reads it back with `BenchJob.from_argv` (or `--job JSON`, `from_json`).
The argparse flags are generated from the fields (`flag`/`help` metadata), so adding a knob is one field here
(plus its typer option). Torch-free and numpy-free: a Raspberry Pi runs it.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

from edgevit.errors import ConfigError


class BenchJobError(ConfigError, ValueError):
    """A bench knob out of range: one `error:` line in the CLI, an argparse usage error on the device side."""


def _knob(default: Any, help: str, flag: str | None = None) -> Any:  # noqa: A002 - argparse's word
    return field(default=default, metadata={"help": help, "flag": flag})


@dataclass
class BenchConfig:
    """The bench protocol's knobs (see `edgevit.runtimes.bench`)."""

    warmup: int = _knob(10, "untimed warm-up runs")
    runs: int = _knob(100, "timed runs")
    time_budget_s: float | None = _knob(None, "time budget (s) for timed runs (at least 3 runs)", "--time")
    batch: int = _knob(1, "batch size of the timed runs")
    large_batch: int = _knob(32, "batch size of the throughput run (0 or <= batch: skip)")
    large_runs: int = _knob(5, "calls at the large batch")
    eval_limit: int | None = _knob(None, "use the first N eval images", "--limit")

    def __post_init__(self) -> None:
        """Refuse counts that make no sense (a negative batch, zero runs) before anything runs."""
        least = {"warmup": 0, "runs": 1, "batch": 1, "large_batch": 0, "large_runs": 1, "eval_limit": 1}
        for name, low in least.items():
            v = getattr(self, name)
            if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < low):
                raise BenchJobError(f"--{name.replace('_', '-')} must be a whole number >= {low}, got {v!r}")
        t = self.time_budget_s
        if t is not None and not (isinstance(t, (int, float)) and 0 < t < float("inf")):
            raise BenchJobError(f"--time must be a number of seconds > 0, got {t!r}")


@dataclass
class BenchJob:
    """One artifact benched with one runtime on one machine."""

    artifact: str = _knob("", "artifact file or folder (or a checkpoint folder for torch)")
    runtime: str | None = _knob(None, "onnx | tflite | coreml | executorch | torch (default: by file)")
    threads: int | None = _knob(None, "runtime threads")
    options: dict[str, Any] = field(default_factory=dict, metadata={
        "help": "runtime option key=value (repeatable)", "flag": "--option"})
    protocol: BenchConfig = field(default_factory=BenchConfig)
    data: str | None = _knob(None, "eval set: digits (shipped) | FILE.npz")
    reference_logits: str | None = _knob(None, ".npy logits of a reference on the same eval set")
    reference_name: str | None = _knob(None, "name of that reference (e.g. torch)")
    save_logits: str | None = _knob(None, "write this run's eval-set logits (.npy)")
    device: str = _knob("local", "label recorded in the result")
    machine_name: str | None = _knob(None, "machine label for the result (default: host name)")

    def __post_init__(self) -> None:
        t = self.threads
        if t is not None and (not isinstance(t, int) or isinstance(t, bool) or t < 1):
            raise BenchJobError(f"--threads must be a whole number >= 1, got {t!r}")

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> BenchJob:
        """Read a job back; unknown keys and wrong types are a ValueError (the text may come from anywhere)."""
        try:
            d = json.loads(text)
        except RecursionError:
            raise ValueError("the job JSON is nested too deeply") from None
        if not isinstance(d, dict):
            raise ValueError("a bench job is a JSON object")
        protocol = d.pop("protocol", {}) or {}
        if not isinstance(protocol, dict):
            raise ValueError("the job's protocol is a JSON object")
        job = cls(**_checked(cls, d), protocol=BenchConfig(**_checked(BenchConfig, protocol)))
        if not job.artifact:
            raise ValueError("a bench job needs an artifact")
        return job

    def to_argv(self) -> list[str]:
        """Arguments after `python -m edgevit.runtimes` (defaults left out, so the command line stays short)."""
        argv = ["bench"]
        for obj in (self, self.protocol):
            for f in _knobs(type(obj)):
                value = getattr(obj, f.name)
                if f.name == "options":
                    for key, v in value.items():
                        argv += [_flag(f), f"{key}={v}"]
                elif value is not None and (value != f.default or f.name == "artifact"):
                    argv += [_flag(f), str(value)]
        return argv

    @classmethod
    def from_argv(cls, argv: list[str]) -> BenchJob:
        """Parse `bench` flags (those `to_argv` writes, or `--job JSON`); bad flags exit 2 (argparse)."""
        p = parser()
        args = p.parse_args(argv)
        if args.job:
            try:
                return cls.from_json(args.job)
            except (ValueError, TypeError) as e:
                p.error(f"--job: {e}")
        if not args.artifact:
            p.error("bench needs --artifact PATH (or --job JSON)")
        values = vars(args)
        values["options"] = parse_options(values["options"])
        try:
            protocol = BenchConfig(**{f.name: values.pop(f.name) for f in _knobs(BenchConfig)})
        except BenchJobError as e:
            p.error(str(e))
        return cls(**{f.name: values[f.name] for f in _knobs(cls)}, protocol=protocol)


def parser() -> argparse.ArgumentParser:
    """The device-side `bench` parser, generated from the fields of `BenchJob` and `BenchConfig`."""
    p = argparse.ArgumentParser(prog="python -m edgevit.runtimes bench",
                                description="bench one artifact with one runtime; print the result JSON")
    p.add_argument("--job", default=None, help="the whole job as JSON (BenchJob.to_json)")
    for cls in (BenchJob, BenchConfig):
        for f in _knobs(cls):
            if f.name == "options":
                p.add_argument(_flag(f), dest=f.name, action="append", help=f.metadata["help"])
            else:
                p.add_argument(_flag(f), dest=f.name, type=_type(f), default=f.default, help=f.metadata["help"])
    p.add_argument("--json-out", default="-", help="write the result here instead of stdout")
    return p


def parse_options(items: list[str] | None) -> dict[str, Any]:
    """`key=value` strings -> dict (ints and floats converted)."""
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"--option expects key=value, got {item!r}")
        v: Any = value
        for conv in (int, float):
            try:
                v = conv(value)
                break
            except ValueError:
                continue
        out[key.strip()] = v
    return out


def _knobs(cls: type) -> list[dataclasses.Field]:
    return [f for f in dataclasses.fields(cls) if f.name != "protocol"]


def _flag(f: dataclasses.Field) -> str:
    return f.metadata.get("flag") or "--" + f.name.replace("_", "-")


def _type(f: dataclasses.Field) -> type:
    kind = str(f.type)
    return int if kind.startswith("int") else float if kind.startswith("float") else str


def _checked(cls: type, d: dict[str, Any]) -> dict[str, Any]:
    known = {f.name: f for f in _knobs(cls)}
    unknown = sorted(set(d) - set(known))
    if unknown:
        raise ValueError(f"unknown bench job field(s): {', '.join(unknown)}")
    for name, value in d.items():
        want = dict if name == "options" else _type(known[name])
        nullable = known[name].default is None
        ok = (value is None and nullable) or isinstance(value, want) or (want is float and isinstance(value, int))
        if not ok or isinstance(value, bool):
            raise ValueError(f"bench job field {name!r} has the wrong type ({type(value).__name__})")
    return d
