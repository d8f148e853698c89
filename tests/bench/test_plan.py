"""Planning several artifacts x runtimes x threads into one comparison."""

from __future__ import annotations

from pathlib import Path

import pytest
from digits_checkpoint import MODEL

from edgevit.errors import RuntimeHarnessError
from edgevit.runtimes.compare import plan_jobs
from edgevit.runtimes.remote import parse_device


def test_plan_by_suffix_runtimes_threads_and_reference(artifacts: Path) -> None:
    jobs = plan_jobs([artifacts / "onnx", artifacts / "tflite"], None)
    assert [(j.artifact.name, j.runtime, j.threads) for j in jobs] == [("onnx", "onnx", None),
                                                                         ("tflite", "tflite", None)]
    jobs = plan_jobs([artifacts], ["tflite", "torch"], [1, 4])
    assert [(j.runtime, j.threads, j.reference) for j in jobs] == [
        ("torch", 1, True), ("torch", 4, True), ("tflite", 1, False), ("tflite", 4, False)]
    jobs = plan_jobs([artifacts / "tflite"], None, [2], reference=artifacts / "ckpt")
    assert [(j.runtime, j.reference) for j in jobs] == [("torch", True), ("tflite", False)]
    assert jobs[1].model == MODEL


def test_plan_errors(artifacts: Path, tmp_path: Path) -> None:
    with pytest.raises(RuntimeHarnessError, match="runs with executorch"):
        plan_jobs([artifacts / "onnx"], ["onnx", "executorch"])
    with pytest.raises(RuntimeHarnessError, match="nothing to bench"):
        plan_jobs([], None)
    with pytest.raises(RuntimeHarnessError, match="does not exist"):
        plan_jobs([tmp_path / "missing"], None)


def test_parse_device() -> None:
    d = parse_device("ssh://pi@raspberrypi.local:2222")
    assert (d.kind, d.user, d.host, d.port) == ("ssh", "pi", "raspberrypi.local", 2222)
    assert str(d) == "ssh://pi@raspberrypi.local:2222" and str(parse_device("ssh://host")) == "ssh://host"
    assert parse_device("adb").serial is None and parse_device("adb:emulator-5554").serial == "emulator-5554"
    assert parse_device(None).kind == parse_device("local").kind == "local"
    for bad in ("ssh://", "ssh://h:notaport", "ssh://h/path", "telnet://h"):
        with pytest.raises(RuntimeHarnessError):
            parse_device(bad)


def test_torch_runtime_finds_the_source_checkpoint(artifacts: Path) -> None:
    jobs = plan_jobs([artifacts / "onnx"], ["onnx", "torch"], [1])
    assert [(j.artifact, j.runtime, j.reference) for j in jobs] == [
        (artifacts / "ckpt", "torch", True), (artifacts / "onnx", "onnx", False)]
