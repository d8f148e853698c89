"""`--device ssh://...` against a real OpenSSH server started on 127.0.0.1 by the test (Debian's openssh-server):
host key and client key generated here, non-root port, the harness run with this venv's python on the "device".
Paths with spaces and shell metacharacters must arrive intact and run nothing."""

from __future__ import annotations

import getpass
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from edgevit_bench_fixtures import child_env

from edgevit.errors import RuntimeHarnessError
from edgevit.runtimes.evalset import load_eval_set
from edgevit.runtimes.job import BenchConfig, BenchJob
from edgevit.runtimes.remote import SSHDevice, parse_device

SSHD = shutil.which("sshd") or ("/usr/sbin/sshd" if Path("/usr/sbin/sshd").exists() else None)
NASTY = "my model $(touch PWNED) ; 'q' \"x\" `id` &"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def sshd(tmp_path_factory):
    if SSHD is None or shutil.which("ssh") is None or shutil.which("ssh-keygen") is None:
        pytest.skip("OpenSSH server/client not installed (Debian: apt-get install openssh-server openssh-client)")
    d = tmp_path_factory.mktemp("sshd")
    for name in ("host_key", "client_key"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / name)], check=True)
    shutil.copy(d / "client_key.pub", d / "authorized_keys")
    os.chmod(d / "authorized_keys", 0o600)
    port = _free_port()
    (d / "sshd_config").write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {d / 'host_key'}\nAuthorizedKeysFile {d / 'authorized_keys'}\n"
        f"PidFile {d / 'sshd.pid'}\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
        "PubkeyAuthentication yes\nPermitRootLogin prohibit-password\nUsePAM no\nStrictModes no\n"
        "PrintMotd no\nLogLevel ERROR\n")
    if os.geteuid() == 0:
        Path("/run/sshd").mkdir(parents=True, exist_ok=True)  # privilege separation dir
    log = open(d / "sshd.log", "w")  # noqa: SIM115
    proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(d / "sshd_config")], stdout=log, stderr=log)
    opts = [f"IdentityFile={d / 'client_key'}", "IdentitiesOnly=yes", "StrictHostKeyChecking=no",
            f"UserKnownHostsFile={d / 'known_hosts'}", "LogLevel=ERROR"]
    spec = f"ssh://{getpass.getuser()}@127.0.0.1:{port}"
    dev = SSHDevice(parse_device(spec), python=sys.executable, options=opts)
    for _ in range(50):
        if proc.poll() is not None:
            break
        try:
            if dev.run(["true"], timeout=10).returncode == 0:
                break
        except RuntimeHarnessError:
            time.sleep(0.1)
    else:
        proc.kill()
        pytest.skip(f"sshd did not accept connections: {(d / 'sshd.log').read_text()[-300:]}")
    if proc.poll() is not None:
        pytest.skip(f"sshd could not start: {(d / 'sshd.log').read_text()[-300:]}")
    yield {"spec": spec, "options": opts, "dir": d, "device": dev}
    proc.terminate()
    proc.wait(timeout=10)
    log.close()


def _python_wrapper(tmp: Path) -> str:
    """The device's python, behind a path with a space and a `$`."""
    d = tmp / "py dir $HOME"
    d.mkdir(parents=True)
    p = d / "python"
    p.write_text(f"#!/bin/sh\nexec {sys.executable} \"$@\"\n")
    p.chmod(0o755)
    return str(p)


def _edgevit_tmp_dirs() -> set[str]:
    return {p.name for p in Path("/tmp").glob("edgevit.*")}


def test_ssh_bench_with_nasty_paths(sshd, artifacts: Path, tmp_path: Path) -> None:
    art = shutil.copytree(artifacts / "tflite", tmp_path / NASTY)
    data = load_eval_set("digits", limit=40).save(tmp_path / "eval set (40).npz")
    before = _edgevit_tmp_dirs()
    dev = SSHDevice(parse_device(sshd["spec"]), python=_python_wrapper(tmp_path), options=sshd["options"])
    assert dev.check()["machine"]["cores"] >= 1
    ref = tmp_path / "ref $1.npy"
    np.save(ref, np.load(artifacts / "reference_logits.npy")[:40])
    r = dev.bench(BenchJob(str(art), "tflite", threads=1, protocol=BenchConfig(runs=5, warmup=1, large_batch=4),
                           data=str(data), reference_logits=str(ref), reference_name="torch"))
    assert r["status"] == "ok", r["error"]
    assert r["device"] == sshd["spec"] and r["artifact"] == str(art)
    assert r["eval_set"] == {"name": "digits[:40]", "n": 40} and r["top1_agreement"] == 1.0
    assert r["accuracy"] > 0.9 and r["latency_ms"]["runs"] == 5 and r["runtime"]["threads"] == 1
    assert not list(Path.home().glob("PWNED")) and not list(tmp_path.rglob("PWNED")) and not Path("PWNED").exists()
    assert _edgevit_tmp_dirs() <= before  # the remote temp folder was removed


def test_cli_ssh_device(sshd, artifacts: Path, tmp_path: Path) -> None:
    art = shutil.copytree(artifacts / "onnx", tmp_path / NASTY)
    args = [sys.executable, "-m", "edgevit", "bench", "--artifact", str(art), "--device", sshd["spec"],
            "--remote-python", sys.executable, "--runs", "5", "--warmup", "1", "--large-batch", "4",
            "--out", str(tmp_path / "o"), "--json"]
    for opt in sshd["options"]:
        args += ["--ssh-option", opt]
    p = subprocess.run(args, capture_output=True, text=True, timeout=300, env=child_env())
    assert p.returncode == 0, p.stderr
    (r,) = json.loads(p.stdout)
    assert r["status"] == "ok" and r["device"] == sshd["spec"] and r["accuracy"] > 0.9


def test_remote_error_result_and_missing_edgevit(sshd, artifacts: Path, tmp_path: Path) -> None:
    bad = shutil.copytree(artifacts / "tflite", tmp_path / "bad one")
    (bad / "model.tflite").write_bytes(b"\x00" * 64)
    r = sshd["device"].bench(BenchJob(str(bad), "tflite", protocol=BenchConfig(runs=2, warmup=1, large_batch=0)))
    assert r["status"] == "error" and "model.tflite" in r["error"]
    no_edgevit = SSHDevice(parse_device(sshd["spec"]), python="/bin/false", options=sshd["options"])
    with pytest.raises(RuntimeHarnessError, match=r"does not run there.*edgevit\[pi\]"):
        no_edgevit.check()


def test_unreachable_device_is_one_clear_line(artifacts: Path, tmp_path: Path) -> None:
    if shutil.which("ssh") is None:
        pytest.skip("no ssh client")
    port = _free_port()  # nothing listens there
    p = subprocess.run([sys.executable, "-m", "edgevit", "bench", "--artifact", str(artifacts / "onnx"),
                        "--device", f"ssh://nobody@127.0.0.1:{port}", "--out", str(tmp_path)],
                       capture_output=True, text=True, timeout=120, env=child_env())
    assert p.returncode == 1 and "Traceback" not in p.stderr
    assert f"cannot reach ssh://nobody@127.0.0.1:{port}" in p.stderr
