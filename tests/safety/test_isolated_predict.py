"""Issue 12, class 1: `predict` runs the model in a child process. A runtime that segfaults or hangs on one image
costs that image only (one clear error for it, the other files go on); one that dies while loading is one error
for the artifact; Ctrl-C kills the child and exits 130. The misbehaving runtime is a fake one registered in the
child through a sitecustomize shim, so these tests need no converter and take seconds."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from edgevit.errors import RuntimeHarnessError
from edgevit.runtimes.predict import run_predict

CONTRACT = {
    "model": {"name": "fake"}, "labels": ["a", "b"],
    "input": {"shape": [1, 3, 4, 4], "layout": "NCHW"}, "output": {"shape": [1, 2]},
    "preprocess": {"size": [4, 4], "channels": 3, "mean": [0.5] * 3, "std": [0.5] * 3},
    "target": "fake", "file": "model.fake",
}

# Pixel value of an image -> what the fake runtime does: 255 crashes (SIGSEGV), 128 hangs, else logits.
SHIM = '''
import os, signal, sys, time, types
import numpy as np
from edgevit.runtimes import base

class FakeHarness(base.Harness):
    name = "fake"
    def _load(self):
        if os.environ.get("FAKE_LOAD_CRASH"):
            os.kill(os.getpid(), signal.SIGABRT)
    def _run(self, x):
        v = float(x.max())
        if v > 0.99:
            os.kill(os.getpid(), signal.SIGSEGV)
        if abs(v) < 0.01:
            while True:
                time.sleep(0.05)
        return np.tile(np.array([[1.0, 0.0]], np.float32), (x.shape[0], 1))

mod = types.ModuleType("fake_runtime")
mod.FakeHarness = FakeHarness
sys.modules["fake_runtime"] = mod
base.HARNESSES["fake"] = "fake_runtime:FakeHarness"
'''


@pytest.fixture()
def fake(tmp_path: Path, monkeypatch) -> Path:
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "sitecustomize.py").write_text(SHIM)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(shim), os.environ.get("PYTHONPATH", "")]))
    art = tmp_path / "art"
    art.mkdir()
    (art / "model.fake").write_bytes(b"x")
    (art / "edgevit.json").write_text(json.dumps(CONTRACT))
    return art


def _png(path: Path, value: int) -> Path:
    Image.fromarray(np.full((6, 6, 3), value, np.uint8)).save(path)
    return path


def test_a_segfault_on_one_image_costs_that_image_only(fake: Path, tmp_path: Path) -> None:
    files = [_png(tmp_path / "a.png", 10), _png(tmp_path / "b.png", 255), _png(tmp_path / "c.png", 20)]
    rep = run_predict(files, fake, "fake", timeout=60)
    by = {Path(f["path"]).name: f for f in rep["files"]}
    assert by["a.png"]["ok"] and by["c.png"]["ok"] and by["a.png"]["top"][0]["label"] == "a"
    assert not by["b.png"]["ok"] and "crashed with SIGSEGV" in by["b.png"]["error"]
    assert rep["summary"] == {**rep["summary"], "files": 3, "ok": 2, "failed": 1}


def test_a_hang_on_one_image_times_out_and_the_rest_go_on(fake: Path, tmp_path: Path) -> None:
    files = [_png(tmp_path / "hang.png", 128), _png(tmp_path / "ok.png", 10)]
    rep = run_predict(files, fake, "fake", timeout=3)
    by = {Path(f["path"]).name: f for f in rep["files"]}
    assert "timed out" in by["hang.png"]["error"] and by["ok.png"]["ok"]


def test_a_crash_while_loading_is_one_error_for_the_artifact(fake: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("FAKE_LOAD_CRASH", "1")
    with pytest.raises(RuntimeHarnessError, match="crashed with SIGABRT while loading") as e:
        run_predict([_png(tmp_path / "a.png", 10)], fake, "fake", timeout=60)
    assert str(fake) in str(e.value) and "\n" not in str(e.value)


def _sigint_default() -> None:
    """Ctrl-C as in a terminal: a shell without job control (CI, `cmd &`) starts children with SIGINT ignored."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_kills_the_child_and_exits_130(fake: Path, tmp_path: Path) -> None:
    hang = _png(tmp_path / "hang-ctrl-c.png", 128)
    proc = subprocess.Popen([sys.executable, "-m", "edgevit.runtimes", "predict", str(hang), "--artifact", str(fake),
                             "--runtime", "fake", "--timeout", "600"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, preexec_fn=_sigint_default)

    def children() -> list[int]:
        """Live worker processes predicting `hang` (read from /proc: ps cuts long command lines)."""
        found = []
        for d in Path("/proc").iterdir():
            try:
                args = (d / "cmdline").read_bytes().split(b"\0")
                state = (d / "stat").read_text().split(") ", 1)[1][0]
            except (OSError, IndexError):
                continue
            if b"predict-worker" in args and str(hang).encode() in args and state != "Z":
                found.append(int(d.name))
        return found

    try:
        deadline = time.time() + 60
        while not children() and time.time() < deadline:
            time.sleep(0.1)
        assert children(), "the worker child never started"
        time.sleep(1.0)  # the worker is now inside the hanging run
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 130 and "error: interrupted" in err and "Traceback" not in err
        time.sleep(0.2)
        assert not children()
    finally:  # a failing assertion must not leave the hanging processes behind
        for pid in children():
            os.kill(pid, signal.SIGKILL)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
