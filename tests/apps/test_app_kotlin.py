"""The Android app's pure-Kotlin logic on the JVM, compiled with the app's exact Kotlin (kotlinc 2.0.21 from npm,
cached by scripts/setup_targets.sh) against Debian's junit4, hamcrest and Android's own org.json
(libandroid-json-java): `Contract.kt`, `Preprocessor.kt`, `BenchStats.kt` and the app's unit tests
(`src/test/java`), all unmodified. Then the app's JUnit tests run, and a driver (tests/apps/kotlin/
PreprocessCheck.kt) compares the preprocessing bit for bit with `preprocess_images` on every digits image.

What needs the Android SDK (activities, Bitmap, LiteRT's AAR) is not compiled here: see apps/android/README.md.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
from app_testlib import APPS, PRE, REPO
from toolchains import toolchain

from edgevit.runtimes.contract import Preprocess, preprocess_images

APP = APPS / "android" / "app" / "src"
KOTLIN_SRC = APP / "main" / "java" / "dev" / "edgevit" / "sample"
PURE = ["Contract.kt", "Preprocessor.kt", "BenchStats.kt"]  # the files with no android.* import
UNIT_TESTS = sorted((APP / "test" / "java").rglob("*.kt"))
RESOURCES = APP / "test" / "resources"
DRIVER = REPO / "tests" / "apps" / "kotlin" / "PreprocessCheck.kt"
GOLDEN = RESOURCES / "preprocess_golden.json"
# Debian's junit4, libhamcrest-java, libandroid-json-java (installed by scripts/setup.sh)
JARS = [Path("/usr/share/java") / j for j in ("junit4.jar", "hamcrest.jar", "com.android.json.jar")]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def classpath(tmp_path_factory) -> str:
    """Everything compiled in one kotlinc run; the classpath that runs it (tests' resources included)."""
    kotlin = toolchain("kotlinc") / "node_modules" / "kotlin-compiler"
    missing = [str(j) for j in JARS if not j.is_file()]
    if missing:
        pytest.skip(f"missing {missing}: apt-get install junit4 libhamcrest-java libandroid-json-java "
                    "(scripts/setup.sh does, as root on Debian)")
    out = tmp_path_factory.mktemp("kotlin") / "classes"
    sources = [*(KOTLIN_SRC / n for n in PURE), *UNIT_TESTS, DRIVER]
    libs = ":".join(map(str, JARS))
    proc = subprocess.run(
        [str(kotlin / "bin" / "kotlinc"), "-language-version", "2.0", "-Werror", "-cp", libs, "-d", str(out),
         *map(str, sources)],
        capture_output=True, text=True, timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    return ":".join([str(out), str(RESOURCES), str(kotlin / "lib" / "kotlin-stdlib.jar"), libs])


def test_kotlin_app_unit_tests_pass(classpath):
    declared = {(p.stem, m) for p in UNIT_TESTS for m in re.findall(r"@Test\s+fun\s+(\w+)", p.read_text())}
    classes = sorted({c for c, _ in declared})
    proc = subprocess.run(["java", "-cp", classpath, "org.junit.runner.JUnitCore",
                           *(f"dev.edgevit.sample.{c}" for c in classes)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
    assert declared and re.search(rf"^OK \({len(declared)} tests?\)$", proc.stdout, re.M), proc.stdout[-3000:]


def _run(classpath, tmp_path, items: list[str]) -> list[str]:
    path = tmp_path / "cases.txt"
    path.write_text("\n".join(items) + "\n", encoding="utf-8")
    proc = subprocess.run(["java", "-cp", classpath, "dev.edgevit.sample.PreprocessCheckKt", str(path)],
                          capture_output=True, text=True, timeout=600)
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


def test_kotlin_preprocessor_matches_golden_and_runtime(classpath, tmp_path, ref):
    golden = json.loads(GOLDEN.read_text(encoding="utf-8"))
    items, want = [], []
    for case in golden["cases"]:
        c = case["contract"]
        pre = Preprocess.from_dict(c["preprocess"])
        items.append(_case(pre, c["input"]["layout"], np.asarray(case["argb"]), case["width"], case["height"]))
        want.append(_bits(np.asarray(case["expected"], np.float32)))
    got = [line.split() for line in _run(classpath, tmp_path, items)]
    assert got == want


def test_kotlin_preprocessor_on_all_digits(classpath, tmp_path, ref, digits):
    images = digits[0]
    items, want = [], []
    for layout in ("NCHW", "NHWC"):
        for image in images:
            argb, w, h = ref.argb_from_image(image)
            items.append(_case(PRE, layout, argb, w, h))
            want.append(_bits(preprocess_images(image[None], PRE, layout).reshape(-1)))
    got = [line.split() for line in _run(classpath, tmp_path, items)]
    assert len(got) == len(want)
    mismatches = sum(g != w for g, w in zip(got, want, strict=True))
    assert mismatches == 0, f"{mismatches} of {len(want)} images differ from preprocess_images"


def test_kotlin_latency_stats_match_numpy(classpath, tmp_path):
    golden = json.loads(GOLDEN.read_text(encoding="utf-8"))
    items = [f"stats\n{' '.join(repr(v) for v in s['samples'])}" for s in golden["stats"]]
    lines = _run(classpath, tmp_path, items)
    keys = ["p50", "p90", "p99", "mean", "trimmed_mean", "std", "min", "max", "runs"]
    for line, s in zip(lines, golden["stats"], strict=True):
        got = dict(zip(keys, (float(v) for v in line.split()), strict=True))
        for k in keys:
            assert got[k] == pytest.approx(s["expected"][k], rel=1e-12, abs=1e-12), k
