"""The Raspberry Pi path on aarch64, emulated: a fresh ONNX and a fresh TFLite export of a freshly trained tiny
MoE model, benched, predicted and described by `python -m edgevit.runtimes` inside a Debian bookworm arm64
root (python3.11 + the aarch64 wheels of edgevit[pi], cached by scripts/setup_targets.sh) under qemu-user,
against the same commands on this x86-64 machine.

It proves that the device side installs and runs on aarch64 and computes the same thing: top-1 equal on all
360 digits test images and logits within the fp32 export tolerance. It proves nothing about speed: qemu
translates every instruction, so no latency measured here is a device number (none is asserted or printed).

- `QEMU_CPU=cortex-a72`: the Pi 4's core (with qemu's default `max` model onnxruntime is ~30x slower).
- /sys stays unmounted in the root: with it, `import onnxruntime` segfaults under qemu-user (its cpuinfo
  then warns that it cannot read the CPU list, which is harmless).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from toolchains import REPO, chroot_run, inside, toolchain, workdir_in

from edgevit.export.validate import TOLERANCES

pytestmark = pytest.mark.slow

RUNTIMES = ("onnx", "tflite")
QEMU_ENV = {"QEMU_CPU": "cortex-a72"}
DIGITS = REPO / "runtimes" / "data" / "digits_test.npz"
N_IMAGES = 12  # PNG files for predict
BENCH = ["--runs", "3", "--warmup", "1", "--large-batch", "0", "--data", "digits"]


def _edgevit(*args: str | Path) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "edgevit", *map(str, args)], capture_output=True, text=True,
                          timeout=900)
    assert proc.returncode == 0, f"edgevit {args[0]}: {proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    return proc


@pytest.fixture(scope="module", autouse=True)
def arm64_root() -> Path:
    """The cached arm64 root, first, so a machine that cannot run it skips before training anything."""
    return toolchain("arm64")


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    """A trained tiny MoE model exported to ONNX and TFLite (export/<runtime>-fp32), PNG files, edgevit's wheel."""
    from PIL import Image

    work = tmp_path_factory.mktemp("aarch64")
    _edgevit("train", "--model", "mmoe_vit_test", "--data", "digits", "--epochs", "8", "--warmup-epochs", "1",
             "--seed", "0", "--out", work / "run")
    _edgevit("export", "--checkpoint", work / "run" / "best", "--target", ",".join(RUNTIMES), "--out",
             work / "export")
    d = np.load(DIGITS)
    (work / "images").mkdir()
    for i in range(N_IMAGES):
        Image.fromarray(d["images"][i]).save(work / "images" / f"{i:02d}.png")
    # edgevit itself as a wheel (built from this tree, as `pip install edgevit[pi]` would get it)
    # --no-build-isolation: the venv's setuptools builds it, so the test needs no package index.
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                           "--wheel-dir", str(work / "wheel"), str(REPO)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return work


def _commands(base: Path) -> dict[str, list[str]]:
    """The device-side commands, with paths below `base` (the same folder layout on both machines)."""
    out: dict[str, list[str]] = {}
    images = [str(base / "images" / f"{i:02d}.png") for i in range(N_IMAGES)]
    for rt in RUNTIMES:
        art = str(base / "export" / f"{rt}-fp32")
        out[f"bench-{rt}"] = ["bench", "--artifact", art, "--runtime", rt, *BENCH, "--save-logits",
                              str(base / f"logits-{rt}.npy"), "--reference-logits", str(base / f"x86-{rt}.npy"),
                              "--device", "qemu-aarch64-emulated", "--json-out", str(base / f"bench-{rt}.json")]
        out[f"predict-{rt}"] = ["predict", *images, "--artifact", art, "--json"]
        out[f"describe-{rt}"] = ["describe", art, "--json"]
    return out


def _collect(base: Path, outputs: dict[str, str], folders: list[Path]) -> dict:
    """Results of one machine, every path below `folders` (its work folder, and where the artifacts were
    exported) written `<work>`, so both machines' results compare."""
    got: dict = {}
    for rt in RUNTIMES:
        got[f"logits-{rt}"] = np.load(base / f"logits-{rt}.npy")
        got[f"bench-{rt}"] = json.loads((base / f"bench-{rt}.json").read_text())
        for cmd in ("predict", "describe"):
            text = outputs[f"{cmd}-{rt}"]
            for folder in folders:
                text = text.replace(str(folder), "<work>")
            got[f"{cmd}-{rt}"] = json.loads(text)
    return got


@pytest.fixture(scope="module")
def x86(work) -> dict:
    outputs = {}
    for name, args in _commands(work).items():
        if name.startswith("bench-"):
            rt = name.split("-", 1)[1]
            args = args[: args.index("--reference-logits")] + ["--json-out", str(work / f"bench-{rt}.json")]
            args[args.index("--save-logits") + 1] = str(work / f"x86-{rt}.npy")
        proc = subprocess.run([sys.executable, "-m", "edgevit.runtimes", *args], capture_output=True, text=True,
                              timeout=900)
        assert proc.returncode == 0, f"{name} on x86: {proc.stderr[-3000:]}"
        outputs[name] = proc.stdout
    for rt in RUNTIMES:
        shutil.copy(work / f"x86-{rt}.npy", work / f"logits-{rt}.npy")
    return _collect(work, outputs, [work])


@pytest.fixture(scope="module")
def aarch64(arm64_root, work, x86) -> dict:
    root = arm64_root
    with workdir_in(root) as here:
        for name in ("export", "images"):
            shutil.copytree(work / name, here / name)
        for rt in RUNTIMES:
            shutil.copy(work / f"x86-{rt}.npy", here / f"x86-{rt}.npy")
        (wheel,) = (work / "wheel").glob("edgevit-*.whl")
        proc = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-compile", "--target",
                               str(here / "site"), str(wheel)], capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr[-3000:]
        base = Path(inside(root, here))
        env = {**QEMU_ENV, "PYTHONPATH": f"{base / 'site'}:/opt/site"}
        outputs = {}
        for name, args in _commands(base).items():
            proc = chroot_run(root, ["/usr/bin/python3.11", "-m", "edgevit.runtimes", *args], env, timeout=900)
            assert proc.returncode == 0, f"{name} on aarch64: {proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
            outputs[name] = proc.stdout.replace(str(base), str(here))
        return _collect(here, outputs, [here, work])


@pytest.mark.parametrize("rt", RUNTIMES)
def test_bench_on_aarch64_agrees_with_x86(x86, aarch64, rt):
    arm, ref = aarch64[f"bench-{rt}"], x86[f"bench-{rt}"]
    assert arm["status"] == "ok", arm["error"]
    assert arm["machine"]["arch"] == "aarch64" and ref["machine"]["arch"] == "x86_64"
    assert arm["runtime"]["name"] == rt and arm["eval_set"] == ref["eval_set"] == {"name": "digits", "n": 360}
    a, b = aarch64[f"logits-{rt}"], x86[f"logits-{rt}"]
    assert a.shape == b.shape == (360, 10)
    assert (a.argmax(-1) == b.argmax(-1)).all(), f"top-1 differs on {(a.argmax(-1) != b.argmax(-1)).sum()} images"
    tol = TOLERANCES["fp32"] * max(1.0, float(np.abs(b).max()))
    assert float(np.abs(a - b).max()) <= tol
    # the harness's own comparison with the x86 logits says the same
    assert arm["top1_agreement"] == 1.0 and arm["max_abs_diff"] <= tol
    assert arm["accuracy"] == ref["accuracy"]


@pytest.mark.parametrize("rt", RUNTIMES)
def test_predict_on_aarch64_agrees_with_x86(x86, aarch64, rt):
    arm, ref = aarch64[f"predict-{rt}"]["files"], x86[f"predict-{rt}"]["files"]
    assert [f["path"] for f in arm] == [f["path"] for f in ref] and len(arm) == N_IMAGES
    for fa, fr in zip(arm, ref, strict=True):
        assert fa["ok"] and fr["ok"], (fa, fr)
        assert [t["label"] for t in fa["top"]] == [t["label"] for t in fr["top"]], fa["path"]
        np.testing.assert_allclose([t["prob"] for t in fa["top"]], [t["prob"] for t in fr["top"]], atol=1e-5)


@pytest.mark.parametrize("rt", RUNTIMES)
def test_describe_on_aarch64_matches_x86(x86, aarch64, rt):
    assert aarch64[f"describe-{rt}"] == x86[f"describe-{rt}"]
