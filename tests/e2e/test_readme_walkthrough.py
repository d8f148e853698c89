"""The README's walkthrough ("From a checkpoint to a device") stays true: its commands are parsed from the
README itself, so a renamed folder or flag breaks this test, not a user's first hour.

The fast test checks every path a command reads against what the commands before it write (export folder
names from the export planner). The slow test runs the commands on a tiny model (vit_test, 300 digits images,
1 epoch), skipping only the ssh line (no Raspberry Pi here) and sending the app bundle to a temp folder."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edgevit.export.formats import FORMATS, check_request, parse_targets

README = Path(__file__).resolve().parents[2] / "README.md"
SECTION = "## From a checkpoint to a device"


def walkthrough() -> list[list[str]]:
    """The bash block under SECTION, one argv per command (comments dropped)."""
    text = README.read_text(encoding="utf-8")
    block = re.search(re.escape(SECTION) + r".*?```bash\n(.*?)```", text, re.S)
    assert block, f"README has no bash block under {SECTION!r}"
    cmds = [shlex.split(line, comments=True) for line in block.group(1).splitlines()]
    cmds = [c for c in cmds if c]
    assert cmds and all(c[0] == "edgevit" for c in cmds)
    return cmds


def _opt(cmd: list[str], flag: str, default: str | None = None) -> str | None:
    return cmd[cmd.index(flag) + 1] if flag in cmd else default


def test_walkthrough_paths_are_what_the_commands_write() -> None:
    written: set[str] = set()
    for cmd in walkthrough():
        verb = cmd[1]
        if verb == "train":
            out = _opt(cmd, "--out")
            assert out, "the walkthrough trains into a named folder"
            written |= {f"{out}/best", f"{out}/last"}
        elif verb == "export":
            ckpt = _opt(cmd, "--checkpoint")
            assert ckpt in written, f"export reads {ckpt}, which no command before it writes"
            for fmt in parse_targets(_opt(cmd, "--target", "onnx")):
                plan = check_request(fmt, precision=_opt(cmd, "--precision"), quant=_opt(cmd, "--quant"))
                written |= {f"{ckpt}/export", f"{ckpt}/export/{plan.tag}"}
        else:
            read = _opt(cmd, "--artifact") or (cmd[2] if verb == "info" else None)
            assert read in written, f"`{shlex.join(cmd)}` reads {read}; written before it: {sorted(written)}"


def _tiny(cmd: list[str], tmp: Path) -> list[str] | None:
    """The README command made small and local; None for what needs a device we don't have."""
    if "--device" in cmd and _opt(cmd, "--device", "").startswith("ssh://"):
        return None
    swap = {"--model": "vit_test", "--data": "digits", "--epochs": "1"}
    out = [swap.get(cmd[i - 1], a) if i else a for i, a in enumerate(cmd)]
    if cmd[1] == "train":
        out += ["--limit", "300", "--batch-size", "32"]
    if cmd[1] == "export":
        out += ["--eval-images", "32"]
        if "--app" in cmd:
            out += ["--app-out", str(tmp / "app")]
    if cmd[1] == "bench":
        out += ["--runs", "5", "--warmup", "1", "--large-batch", "0"]
    return [sys.executable, "-m", "edgevit", *out[1:]]


@pytest.mark.slow
def test_walkthrough_runs(tmp_path: Path) -> None:
    from PIL import Image

    photos = tmp_path / "my_photos"
    photos.mkdir()
    for i in range(2):
        Image.fromarray((np.random.default_rng(i).random((8, 8)) * 255).astype(np.uint8)).save(photos / f"{i}.png")
    ran = 0
    for cmd in walkthrough():
        argv = _tiny(cmd, tmp_path)
        if argv is None:
            continue
        r = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=1200)
        assert r.returncode == 0, f"{shlex.join(cmd)}\n{r.stderr[-2000:]}"
        ran += 1
    assert ran >= len(walkthrough()) - 1
    assert (tmp_path / "app").is_dir() and any((tmp_path / "runs").rglob("edgevit.json"))


def test_quick_start_names_the_default_run_folder() -> None:
    from edgevit.train.recipe import DEFAULT_DATA, DEFAULT_MODEL
    from edgevit.train.rundir import base_name

    assert f"runs/{base_name(DEFAULT_DATA, DEFAULT_MODEL)}" in README.read_text(encoding="utf-8")
    assert FORMATS  # the planner the fast test uses is the exporter's own
