"""Compile and run the Android app's pure-Kotlin Preprocessor.kt and BenchStats.kt on the JVM (when a Kotlin
compiler is on PATH; Android's SDK is not needed) and compare them bit for bit with the Python mirror.

Skipped where `kotlinc` is missing. Debian's `kotlin` package (1.3) predates trailing commas, so they are
stripped from a copy of the sources before compiling; nothing else is changed.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import numpy as np
import pytest
from app_testlib import APPS, PRE, REPO

from edgevit.runtimes.contract import Preprocess, preprocess_images

KOTLIN_SRC = APPS / "android" / "app" / "src" / "main" / "java" / "dev" / "edgevit" / "sample"
DRIVER = REPO / "tests" / "apps" / "kotlin" / "PreprocessCheck.kt"
GOLDEN = APPS / "android" / "app" / "src" / "test" / "resources" / "preprocess_golden.json"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("kotlinc") is None or shutil.which("java") is None,
                       reason="no kotlinc/java on PATH (apt-get install kotlin) to compile the app's Kotlin"),
]


@pytest.fixture(scope="module")
def kotlin_jar(tmp_path_factory):
    build = tmp_path_factory.mktemp("kotlin")
    for name in ("Preprocessor.kt", "BenchStats.kt"):
        src = (KOTLIN_SRC / name).read_text(encoding="utf-8")
        (build / name).write_text(re.sub(r",(\s*\))", r"\1", src), encoding="utf-8")
    shutil.copy(DRIVER, build / DRIVER.name)
    jar = build / "check.jar"
    proc = subprocess.run(
        ["kotlinc", *(str(p) for p in sorted(build.glob("*.kt"))), "-include-runtime", "-d", str(jar)],
        capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0 and jar.is_file(), proc.stderr[-4000:]
    return jar


def _run(jar, tmp_path, items: list[str]) -> list[str]:
    path = tmp_path / "cases.txt"
    path.write_text("\n".join(items) + "\n", encoding="utf-8")
    proc = subprocess.run(["java", "-jar", str(jar), str(path)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return proc.stdout.splitlines()


def _case(pre: Preprocess, layout: str, argb: np.ndarray, width: int, height: int) -> str:
    h, w = pre.size
    return "\n".join([
        f"case {h} {w} {pre.channels} {pre.resize} {layout} {pre.scale!r}",
        " ".join(repr(m) for m in pre.mean),
        " ".join(repr(s) for s in pre.std),
        f"{width} {height}",
        " ".join(str(int(v)) for v in argb),
    ])


def _bits(x: np.ndarray) -> list[str]:
    return [format(int(v), "x") for v in np.asarray(x, np.float32).view(np.uint32)]


def test_kotlin_preprocessor_matches_golden_and_runtime(kotlin_jar, tmp_path, ref):
    golden = json.loads(GOLDEN.read_text(encoding="utf-8"))
    items, want = [], []
    for case in golden["cases"]:
        c = case["contract"]
        pre = Preprocess.from_dict(c["preprocess"])
        items.append(_case(pre, c["input"]["layout"], np.asarray(case["argb"]), case["width"], case["height"]))
        want.append(_bits(np.asarray(case["expected"], np.float32)))
    got = [line.split() for line in _run(kotlin_jar, tmp_path, items)]
    assert got == want


def test_kotlin_preprocessor_on_all_digits(kotlin_jar, tmp_path, ref, digits):
    images = digits[0]
    items, want = [], []
    for layout in ("NCHW", "NHWC"):
        for image in images:
            argb, w, h = ref.argb_from_image(image)
            items.append(_case(PRE, layout, argb, w, h))
            want.append(_bits(preprocess_images(image[None], PRE, layout).reshape(-1)))
    got = [line.split() for line in _run(kotlin_jar, tmp_path, items)]
    assert len(got) == len(want)
    mismatches = sum(g != w for g, w in zip(got, want, strict=True))
    assert mismatches == 0, f"{mismatches} of {len(want)} images differ from preprocess_images"


def test_kotlin_latency_stats_match_numpy(kotlin_jar, tmp_path):
    golden = json.loads(GOLDEN.read_text(encoding="utf-8"))
    items = [f"stats\n{' '.join(repr(v) for v in s['samples'])}" for s in golden["stats"]]
    lines = _run(kotlin_jar, tmp_path, items)
    keys = ["p50", "p90", "p99", "mean", "trimmed_mean", "std", "min", "max", "runs"]
    for line, s in zip(lines, golden["stats"], strict=True):
        got = dict(zip(keys, (float(v) for v in line.split()), strict=True))
        for k in keys:
            assert got[k] == pytest.approx(s["expected"][k], rel=1e-12, abs=1e-12), k
