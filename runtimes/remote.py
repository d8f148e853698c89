"""Benches on other machines. `--device ssh://user@host[:port]` runs the same torch-free harness on the device;
`--device adb[:SERIAL]` drives LiteRT's `benchmark_model` on a phone (see `edgevit.runtimes.adb`).

ssh path: one `ssh` to check the device (`python -m edgevit.runtimes info`), one that makes a temp folder and
unpacks a tar stream of the artifact + its `edgevit.json` (+ eval set / reference logits when needed) into it,
one per bench (`python -m edgevit.runtimes bench ... --json-out -`), one to remove the folder. Every remote
argument is shell-quoted (`shlex.quote`): ssh hands the remote shell one string, so paths with spaces or `$`/`;`
would otherwise be split or run. Needs only `ssh` here and `sh`, `tar`, `mktemp` and `edgevit[pi]` there.
"""

from __future__ import annotations

import dataclasses
import io
import re
import shlex
import subprocess
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from edgevit.errors import RuntimeHarnessError
from edgevit.runtimes.base import resolve_artifact
from edgevit.runtimes.contract import CONTRACT_FILENAME
from edgevit.runtimes.isolate import parse_child_output, tail_line
from edgevit.runtimes.job import BenchJob


@dataclass
class DeviceSpec:
    kind: str  # local | ssh | adb
    user: str | None = None
    host: str | None = None
    port: int | None = None
    serial: str | None = None

    def __str__(self) -> str:
        if self.kind == "ssh":
            return f"ssh://{self.user + '@' if self.user else ''}{self.host}{':' + str(self.port) if self.port else ''}"
        if self.kind == "adb":
            return f"adb:{self.serial}" if self.serial else "adb"
        return "local"


_HOST = re.compile(r"[A-Za-z0-9_.:%][A-Za-z0-9_.:%-]*")  # names, IPv4, IPv6 (+ zone); never a leading '-'
_USER = re.compile(r"[A-Za-z0-9_.][A-Za-z0-9_.-]*")


def parse_device(spec: str | None) -> DeviceSpec:
    """'local' | 'ssh://[user@]host[:port]' | 'adb' | 'adb:SERIAL'."""
    if not spec or spec == "local":
        return DeviceSpec("local")
    if spec == "adb" or spec.startswith("adb:"):
        serial = spec[4:] or None
        return DeviceSpec("adb", serial=serial)
    if spec.startswith("ssh://"):
        try:
            u = urlsplit(spec)
            host = u.hostname
        except ValueError as e:  # e.g. ssh://[::1;x]: not an IPv6 address
            raise RuntimeHarnessError(f"device {spec!r}: {e}") from None
        try:
            port = u.port
        except ValueError:
            raise RuntimeHarnessError(f"bad port in device {spec!r}") from None
        if host and not _HOST.fullmatch(host) or (u.username and not _USER.fullmatch(u.username)):
            raise RuntimeHarnessError(f"device {spec!r}: the user or host name holds characters ssh does not take")
        if not u.hostname or (u.path not in ("", "/")):
            raise RuntimeHarnessError(f"device {spec!r}: expected ssh://user@host[:port]")
        return DeviceSpec("ssh", user=u.username, host=u.hostname, port=port)
    raise RuntimeHarnessError(f"unknown device {spec!r}: expected local, ssh://user@host[:port], adb or adb:SERIAL")


def artifact_files(artifact: str | Path) -> tuple[Path, list[tuple[Path, str]]]:
    """The local files one artifact needs on a device -> (model path, [(local path, name in the bundle)])."""
    contract, model = resolve_artifact(artifact)
    folder = model.parent.name or "artifact"
    files = [(model, f"{folder}/{model.name}"), (model.parent / CONTRACT_FILENAME, f"{folder}/{CONTRACT_FILENAME}")]
    # side files named after the model (ONNX external weights: model.onnx.data) travel with it
    files += [(p, f"{folder}/{p.name}") for p in sorted(model.parent.glob(f"{model.name}.*")) if p.is_file()]
    return model, files


@dataclass
class SSHDevice:
    spec: DeviceSpec
    python: str = "python3"
    ssh: str = "ssh"
    options: list[str] = field(default_factory=list)  # extra ssh -o options, e.g. "IdentityFile=..."
    connect_timeout: int = 15
    timeout: float = 1800.0

    @property
    def dest(self) -> str:
        return f"{self.spec.user}@{self.spec.host}" if self.spec.user else str(self.spec.host)

    def _argv(self, remote_cmd: str) -> list[str]:
        argv = [self.ssh, "-o", "BatchMode=yes", "-o", f"ConnectTimeout={self.connect_timeout}"]
        if self.spec.port:
            argv += ["-p", str(self.spec.port)]
        for opt in self.options:
            argv += ["-o", opt]
        return argv + ["--", self.dest, remote_cmd]

    def run(self, args: list[str], *, data: bytes | None = None, timeout: float | None = None,
            check: bool = True) -> subprocess.CompletedProcess:
        """Run a command (a list of arguments, each quoted for the remote shell) on the device."""
        return self.run_shell(" ".join(shlex.quote(a) for a in args), data=data, timeout=timeout, check=check)

    def run_shell(self, cmd: str, *, data: bytes | None = None, timeout: float | None = None,
                  check: bool = True) -> subprocess.CompletedProcess:
        try:
            proc = subprocess.run(self._argv(cmd), input=data, capture_output=True, timeout=timeout or self.timeout)
        except subprocess.TimeoutExpired:
            raise RuntimeHarnessError(f"{self.spec}: command timed out: {cmd[:120]}") from None
        except FileNotFoundError:
            raise RuntimeHarnessError(f"cannot run {self.ssh!r}: is OpenSSH's client installed?") from None
        if check and proc.returncode == 255:
            raise RuntimeHarnessError(f"cannot reach {self.spec}: {tail_line(proc.stderr.decode(errors='replace'))}")
        return proc

    def check(self) -> dict[str, Any]:
        """Reachable, and edgevit importable by `python` there -> its `info` JSON."""
        import json

        proc = self.run([self.python, "-m", "edgevit.runtimes", "info"], timeout=120, check=True)
        out = proc.stdout.decode(errors="replace")
        if proc.returncode != 0 or not out.strip().startswith("{"):
            why = tail_line(proc.stderr.decode(errors="replace"))
            raise RuntimeHarnessError(f"{self.spec}: `{self.python} -m edgevit.runtimes` does not run there ({why}); "
                                      "install it on the device with pip install 'edgevit[pi]' or pass --remote-python")
        return json.loads(out)

    def push(self, files: list[tuple[Path, str]]) -> str:
        """Copy files into a fresh temp folder on the device (tar stream over ssh) -> the folder's path."""
        proc = self.run_shell("mktemp -d -t edgevit.XXXXXX", timeout=60)
        remote_dir = proc.stdout.decode().strip()
        if proc.returncode != 0 or not remote_dir.startswith("/"):
            raise RuntimeHarnessError(f"{self.spec}: cannot make a temp folder: {tail_line(proc.stderr.decode())}")
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for local, name in files:
                tar.add(str(local), arcname=name)
        proc = self.run(["tar", "-x", "-f", "-", "-C", remote_dir], data=buf.getvalue(), timeout=600)
        if proc.returncode != 0:
            raise RuntimeHarnessError(f"{self.spec}: copying to {remote_dir} failed: {tail_line(proc.stderr.decode())}")
        return remote_dir

    def cleanup(self, remote_dir: str) -> None:
        if remote_dir.startswith("/tmp/") or "/edgevit." in remote_dir:
            self.run(["rm", "-rf", remote_dir], timeout=60, check=False)

    def bench(self, job: BenchJob) -> dict[str, Any]:
        """Copy one job's artifact (and its eval-set .npz / reference logits) over, bench it there with the
        torch-free harness, bring the result back."""
        artifact, runtime = job.artifact, job.runtime
        _, files = artifact_files(artifact)
        extra = []
        if job.data is not None:
            extra.append((Path(job.data), "eval_set.npz"))
        if job.reference_logits is not None:
            extra.append((Path(job.reference_logits), "reference_logits.npy"))
        remote_dir = self.push(files + extra)
        try:
            there = dataclasses.replace(
                job, artifact=f"{remote_dir}/{files[0][1]}", device=str(self.spec), save_logits=None,
                data=f"{remote_dir}/eval_set.npz" if job.data is not None else None,
                reference_logits=f"{remote_dir}/reference_logits.npy" if job.reference_logits is not None else None)
            proc = self.run([self.python, "-m", "edgevit.runtimes", *there.to_argv()], check=True)
            r = parse_child_output(proc.stdout.decode(errors="replace"), proc.stderr.decode(errors="replace"),
                                   proc.returncode, str(artifact), runtime, where=f" on {self.spec}")
        finally:
            self.cleanup(remote_dir)
        r["artifact"] = str(artifact)
        r["device"] = str(self.spec)
        return r
