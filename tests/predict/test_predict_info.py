"""`edgevit info`: artifacts described from their contract (torch-free), checkpoints from the built model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from predict_fixtures import cli
from typer.testing import CliRunner

from edgevit.errors import ContractError
from edgevit.runtimes.describe import describe_artifact, describe_artifacts, render_description


def _text(renderable) -> str:
    from rich.console import Console

    con = Console(width=200, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
    con.print(renderable)
    return con.export_text()


@pytest.mark.parametrize("fmt", ["onnx", "tflite"])
def test_describe_artifact(models: Path, fmt: str) -> None:
    from edgevit.checkpoint import load_checkpoint
    from edgevit.models.stats import count_params

    art = models / "digits" / "export" / f"{fmt}-fp32"
    d = describe_artifact(art)
    model_file = art / f"model.{fmt}"
    assert d["kind"] == "artifact" and d["runtime"] == fmt and d["target"] == fmt and d["file"] == str(model_file)
    assert d["size_bytes"] == model_file.stat().st_size and d["warnings"] == []
    assert d["model"]["name"] == "vit_test" and d["model"]["config"]["dim"] == 32
    assert d["model"]["params"] == count_params(load_checkpoint(models / "digits" / "best")[0])
    assert d["labels"] == [str(i) for i in range(10)] and d["input"]["shape"] == [1, 3, 16, 16]
    assert d["input"]["layout"] == "NCHW" and d["preprocess"]["size"] == [16, 16]
    assert d["precision"] == "fp32" and d["routing"] == "none" and d["edgevit_version"]
    assert d["validation"]["passed"] is True and d["validation"]["top1_agreement"] == 1.0
    assert d["source"]["checkpoint"] == str(models / "digits" / "best")
    # the same artifact named by its model file or its edgevit.json
    assert describe_artifact(model_file)["model"] == d["model"]
    assert describe_artifact(art / "edgevit.json")["file"] == str(model_file)
    text = _text(render_description(d))
    for needle in ("vit_test", "NCHW", "validation: passed", "top-1 agreement 100.0%", "25,", "labels", "✓"):
        assert needle in text, needle


def test_describe_checkpoint(models: Path) -> None:
    from edgevit.inspect_checkpoint import describe_checkpoint, describe_path

    ckpt = models / "fashion-mnist" / "best"
    d = describe_checkpoint(ckpt)
    assert d["kind"] == "checkpoint" and d["runtime"] == "torch" and d["model"]["name"] == "vit_test"
    assert d["model"]["params"] > 20_000 and d["model"]["flops"] > 100_000
    assert d["labels"][0] == "T-shirt/top" and d["input"] == {"name": "input", "shape": [1, 3, 16, 16],
                                                              "layout": "NCHW", "dtype": "float32"}
    assert d["precision"] == "fp32" and d["routing"].startswith("none")
    assert d["train"]["trained on"].startswith("fashion-mnist") and "test" in d["train"]["metrics"]
    assert d["size_bytes"] == (ckpt / "model.safetensors").stat().st_size
    text = _text(render_description(d))
    assert "FLOPs / image" in text and "fashion-mnist" in text and "T-shirt/top" in text
    # a folder of exports -> one description each; a checkpoint among artifacts is described by torch
    both = describe_path(models / "digits" / "export")
    assert [x["runtime"] for x in both] == ["onnx", "tflite"]
    assert describe_path(ckpt)[0]["kind"] == "checkpoint"


def test_describe_problems(models: Path, tmp_path: Path) -> None:
    art = tmp_path / "art"
    shutil.copytree(models / "digits" / "export" / "onnx-fp32", art)
    (art / "model.onnx").unlink()
    d = describe_artifact(art)
    assert d["size_bytes"] is None and d["warnings"] == ["model file model.onnx is missing"]
    bare = tmp_path / "bare"
    bare.mkdir()
    (bare / "model.tflite").write_bytes(b"x")
    with pytest.raises(ContractError, match="no edgevit.json"):
        describe_artifact(bare / "model.tflite")
    with pytest.raises(ContractError, match="checkpoint folder"):
        describe_artifact(models / "digits" / "best")
    # a minimal hand-written contract (no validation, no config) still renders
    c = json.loads((models / "digits" / "export" / "onnx-fp32" / "edgevit.json").read_text())
    for key in ("validation", "source", "edgevit_version"):
        c.pop(key)
    c["model"] = {"name": "mine"}
    (art / "edgevit.json").write_text(json.dumps(c))
    text = _text(render_description(describe_artifact(art)))
    assert "mine" in text and "validation: none recorded" in text
    assert len(describe_artifacts(models / "digits" / "export")) == 2


def test_info_cli(models: Path) -> None:
    d = json.loads(cli("info", str(models / "digits" / "export" / "tflite-fp32"), "--json"))
    assert d["runtime"] == "tflite" and d["validation"]["passed"]
    both = json.loads(cli("info", str(models / "digits" / "export"), "--json"))
    assert isinstance(both, list) and len(both) == 2
    ck = json.loads(cli("info", str(models / "digits" / "best"), "--json"))
    assert ck["kind"] == "checkpoint" and ck["model"]["flops"] > 0
    pretty = cli("info", str(models / "digits" / "export" / "onnx-fp32"))
    assert "vit_test" in pretty and "validation: passed" in pretty and "preprocess" in pretty
    from edgevit.cli import app

    res = CliRunner().invoke(app, ["info", str(models / "nowhere")])
    assert res.exit_code != 0 and "does not exist" in str(res.exception)


def test_info_marks_skipped_checks_as_skipped_not_failed() -> None:
    from edgevit.runtimes.describe import _validation_lines

    lines = dict(_validation_lines({"passed": True, "checks": [
        {"name": "outputs finite", "ok": True}, {"name": "max abs diff (int8)", "ok": None, "detail": "reported only"},
        {"name": "agreement", "ok": False}]}))
    assert lines["  ✓ outputs finite"] == "green"
    assert lines["  – max abs diff (int8): reported only"] == "dim"  # skipped, not ✗
    assert lines["  ✗ agreement"] == "red"


def test_runtime_native_logs_are_caught_unless_verbose(monkeypatch) -> None:
    import os

    from edgevit.runtimes.console import VERBOSE_ENV, native_output_to

    log: list[str] = []
    monkeypatch.delenv(VERBOSE_ENV, raising=False)
    with native_output_to(log):
        os.write(2, b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n")  # what C++ code does
    assert "XNNPACK" in log[0]
    monkeypatch.setenv(VERBOSE_ENV, "1")
    log.clear()
    with native_output_to(log):
        pass
    assert log == []  # --verbose: nothing caught


def test_predict_takes_the_model_as_its_first_path(models: Path, image_sets: dict[str, Path]) -> None:
    """`edgevit predict MODEL IMAGES...` (an export or checkpoint folder first) == the --artifact/--checkpoint form."""
    images = sorted(image_sets["digits"].rglob("*.png"))[:3]
    files = [str(p) for p in images]
    artifact, checkpoint = models / "digits" / "export" / "onnx-fp32", models / "digits" / "best"

    def top1(out: str) -> list[str]:
        return [f["top"][0]["label"] for f in json.loads(out)["files"]]

    by_option = top1(cli("predict", *files, "--artifact", str(artifact), "--json", "--no-isolate"))
    assert top1(cli("predict", str(artifact), *files, "--json", "--no-isolate")) == by_option
    assert top1(cli("predict", str(checkpoint), *files, "--json", "--no-isolate")) == by_option
    from edgevit.cli import app

    res = CliRunner().invoke(app, ["predict", *files])
    assert res.exit_code == 2 and "MODEL IMAGES" in res.output
