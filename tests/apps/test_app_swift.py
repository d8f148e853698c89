"""`swift build` + `swift test` of the iOS app's pure-Swift logic (apps/ios/Package.swift: EdgeVit/Core/ and
its XCTest target) with Debian trixie's swiftlang, in the root scripts/setup_targets.sh caches.

The XCTest cases read the same golden file as the Android unit tests and Python (preprocessing bit for bit,
latency statistics, the labels.txt rule). What needs Apple's frameworks (CoreGraphics decoding, Core ML,
SwiftUI) is not compiled here: see apps/ios/README.md.
"""

from __future__ import annotations

import re
import shutil

import pytest
from app_testlib import APPS
from toolchains import chroot_run, inside, mounted_proc, toolchain, workdir_in

pytestmark = pytest.mark.slow

GOLDEN_DIR = APPS / "android" / "app" / "src" / "test" / "resources"
TESTS = APPS / "ios" / "Tests" / "EdgeVitCoreTests"


@pytest.fixture(scope="module")
def swift_run():
    """`swift test` output of a fresh copy of apps/ios (and the golden file it reads) inside the trixie root."""
    root = toolchain("swift")
    with workdir_in(root) as work:
        shutil.copytree(APPS / "ios", work / "apps" / "ios", ignore=shutil.ignore_patterns(".build", "Resources"))
        shutil.copytree(GOLDEN_DIR, work / "apps" / "android" / "app" / "src" / "test" / "resources")
        package, scratch = inside(root, work / "apps" / "ios"), inside(root, work / "build")
        (work / "tmp").mkdir()
        env = {"TMPDIR": inside(root, work / "tmp")}  # SwiftPM's temporary folders go with the work folder
        with mounted_proc(root):
            where = ["--package-path", package, "--scratch-path", scratch]
            build = chroot_run(root, ["swift", "build", "--build-tests", *where], env, timeout=900)
            test = chroot_run(root, ["swift", "test", "--skip-build", "--disable-swift-testing", *where], env,
                              timeout=900)
    return build, test


def test_swift_package_builds(swift_run):
    build, _ = swift_run
    assert build.returncode == 0, build.stdout[-4000:] + build.stderr[-4000:]
    assert "warning:" not in build.stdout + build.stderr, build.stdout[-4000:] + build.stderr[-4000:]


def test_swift_unit_tests_pass(swift_run):
    _, test = swift_run
    out = test.stdout + test.stderr
    assert test.returncode == 0, out[-6000:]
    declared = set(re.findall(r"func (test\w+)\(", "".join(p.read_text() for p in TESTS.glob("*.swift"))))
    passed = set(re.findall(r"Test Case '\w+\.(test\w+)' passed", out))
    assert declared and passed == declared, f"declared {sorted(declared)}, passed {sorted(passed)}\n{out[-4000:]}"
