"""Bad input to `edgevit export`: one clear error line, exit 1, nothing written."""

from __future__ import annotations

import json

import pytest
import torch

from edgevit.cli import main
from edgevit.export.common import converter_error
from edgevit.export.formats import FORMATS, check_request, parse_targets


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as e:
        main(["export", *args])
    out, err = capsys.readouterr()
    return int(e.value.code or 0), out, err


def assert_one_error(code: int, err: str, *needles: str) -> None:
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert code == 1 and len(lines) == 1 and lines[0].startswith("error:"), err
    for n in needles:
        assert n in lines[0], (n, lines[0])


def test_missing_checkpoint(capsys, tmp_path):
    code, _, err = run_cli(capsys, "-c", str(tmp_path / "nope"), "-t", "onnx", "-o", str(tmp_path / "out"))
    assert_one_error(code, err, "checkpoint directory not found")
    assert not (tmp_path / "out").exists()


def test_corrupt_checkpoint(capsys, tmp_path, checkpoint_factory):
    import shutil

    bad = tmp_path / "bad"
    shutil.copytree(checkpoint_factory("mobile_vmoe_test"), bad, ignore=shutil.ignore_patterns("export"))
    (bad / "model.safetensors").write_bytes(b"not a safetensors file")
    code, _, err = run_cli(capsys, "-c", str(bad), "-t", "onnx")
    assert_one_error(code, err, "corrupt")
    assert not (bad / "export").exists() or not any((bad / "export").iterdir())


def test_unknown_target(capsys, checkpoint_factory, tmp_path):
    code, _, err = run_cli(capsys, "-c", str(checkpoint_factory("mobile_vmoe_test")), "-t", "onnx,tensorrt",
                           "-o", str(tmp_path / "o"))
    assert_one_error(code, err, "unknown target 'tensorrt'", "onnx, coreml, tflite, executorch")
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("args, needles", [
    (["-t", "onnx", "--layout", "NHWC"], ["onnx does not support --layout NHWC", "--precision fp32|fp16|int8"]),
    (["-t", "executorch", "-p", "fp16"], ["executorch does not support --precision fp16", "fp32|int8"]),
    (["-t", "tflite", "--opset", "17"], ["tflite does not support --opset", "--layout NCHW|NHWC"]),
    (["-t", "onnx", "--opset", "99"], ["--opset 99 is newer than this onnx package knows"]),
    (["-t", "onnx,coreml", "--image-input"], ["onnx does not support --image-input"]),
    (["-t", "coreml", "-p", "int8", "--quant", "static"], ["coreml does not support --quant static", "linear|palettize"]),
    (["-t", "onnx", "--quant", "static"], ["--quant static needs --precision int8"]),
    (["-t", "onnx", "--calib-images", "8"], ["--calib-images is used by onnx --precision int8 --quant static"]),
    (["-t", "onnx", "--routing", "sparse"], ["unknown routing 'sparse'"]),
    (["-t", "onnx", "-p", "int8", "--quant", "static", "--calib-images", "0"], ["--calib-images must be >= 1, got 0"]),
    (["-t", "onnx", "--eval-images", "-3"], ["--eval-images must be >= 1, got -3"]),
    (["-t", "onnx", "--min-agreement", "1.5"], ["--min-agreement is a share in [0, 1]"]),
    (["-t", "onnx", "--opset", "5"], ["--opset 5 is too old"]),
    (["-t", "onnx", "--app", "android"], ["--app android bundles a tflite model"]),
])
def test_unsupported_flag_is_named(capsys, checkpoint_factory, tmp_path, args, needles):
    code, _, err = run_cli(capsys, "-c", str(checkpoint_factory("mobile_vmoe_test")), "-o", str(tmp_path / "o"), *args)
    assert_one_error(code, err, *needles)
    assert not (tmp_path / "o").exists()


def test_formats_table_is_the_single_source():
    assert set(FORMATS) == {"onnx", "coreml", "tflite", "executorch"}
    assert [f.name for f in parse_targets("tflite, onnx,tflite")] == ["tflite", "onnx"]
    assert check_request(FORMATS["coreml"]).precision == "fp16"
    plan = check_request(FORMATS["tflite"], precision="int8", quant="static", layout="nhwc", calib_images=8)
    assert (plan.tag, plan.needs_calibration) == ("tflite-int8-static-nhwc", True)
    assert check_request(FORMATS["onnx"], precision="int8").tag == "onnx-int8"


def test_list_targets(capsys):
    with pytest.raises(SystemExit) as e:
        main(["export", "--list"])
    out = capsys.readouterr().out
    assert (e.value.code or 0) == 0
    assert all(n in out for n in FORMATS)
    # the extras survive (no rich markup eats "[onnx]") and every line reads at 80 columns
    assert all(f"edgevit[{f.extra}]" in out for f in FORMATS.values())
    assert max(len(line) for line in out.splitlines()) <= 80


def test_validation_failure_writes_nothing_unless_keep_invalid(capsys, checkpoint_factory, tmp_path, monkeypatch):
    from edgevit.export import validate

    monkeypatch.setitem(validate.TOLERANCES, "fp32", 0.0)  # no fp32 export is that exact: validation fails
    ck = str(checkpoint_factory("mobile_vmoe_test"))
    common = ["-c", ck, "-t", "onnx", "--eval-images", "8", "--no-simplify"]
    code, _, err = run_cli(capsys, *common, "-o", str(tmp_path / "a"))
    assert_one_error(code, err, "onnx-fp32", "max abs diff", "no artifact written")
    assert not (tmp_path / "a").exists()  # created for this run, left empty, removed
    code, _, err = run_cli(capsys, *common, "-o", str(tmp_path / "b"), "--keep-invalid")
    assert_one_error(code, err, "kept: --keep-invalid")
    contract = json.loads((tmp_path / "b" / "onnx-fp32" / "edgevit.json").read_text())
    assert contract["validation"]["passed"] is False
    assert (tmp_path / "b" / "onnx-fp32" / "model.onnx").is_file()


class Sparse(torch.nn.Module):
    def forward(self, x):
        keep = torch.nonzero(x.flatten() > 0).squeeze(1)
        return x.flatten()[keep].sum().reshape(1)


class Net(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = torch.nn.Sequential(torch.nn.Identity(), Sparse())

    def forward(self, x):
        return self.body(x)


def test_converter_error_names_op_and_module():
    err = converter_error("tflite", RuntimeError("Unsupported: aten.nonzero.default needs a static size"),
                          Net(), torch.randn(1, 4))
    msg = str(err)
    assert "nonzero" in msg and "body.1" in msg and "Sparse" in msg, msg
    assert "\n" not in msg


def test_missing_converter_names_the_extra(capsys, checkpoint_factory, tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "litert_torch" else real(name, *a))
    code, _, err = run_cli(capsys, "-c", str(checkpoint_factory("mobile_vmoe_test")), "-t", "onnx,tflite",
                           "-o", str(tmp_path / "o"))
    assert_one_error(code, err, "litert-torch is needed for tflite export", "pip install 'edgevit[tflite]'")
    assert not (tmp_path / "o").exists()
    from edgevit.errors import MissingDependencyError
    from edgevit.export.pipeline import ExportRequest, plan_export

    with pytest.raises(MissingDependencyError, match=r"pip install 'edgevit\[tflite\]'") as e:
        plan_export(ExportRequest(checkpoint_factory("mobile_vmoe_test"), "tflite"))
    assert e.value.extra == "tflite"


def test_a_published_export_says_what_to_run_next(capsys, checkpoint_factory, tmp_path):
    out_dir = tmp_path / "has space"
    code, out, err = run_cli(capsys, "-c", str(checkpoint_factory("vit_test")), "-t", "tflite", "-p", "int8",
                             "--eval-images", "8", "-o", str(out_dir))
    assert code == 0, err
    lines = out.strip().splitlines()
    assert f"next: edgevit bench '{out_dir}'" in lines  # quoted: pasted into a shell it still works
    assert any(ln.startswith("tip: --quant static") for ln in lines)
    code, out, err = run_cli(capsys, "-c", str(checkpoint_factory("vit_test")), "-t", "tflite", "-p", "int8",
                             "--quant", "static", "--calib-images", "8", "--eval-images", "8", "-o", str(out_dir))
    assert code == 0, err
    assert not any(ln.startswith("tip:") for ln in out.splitlines())  # static is what the tip would suggest


def test_an_app_export_says_where_the_bundle_went(capsys, checkpoint_factory, tmp_path):
    """The bundle's place stays on screen (it was only in the vanishing progress line) and reads like any folder."""
    import os

    bundle = tmp_path / "assets"
    code, out, err = run_cli(capsys, "-c", str(checkpoint_factory("vit_test")), "-t", "tflite", "--app", "android",
                             "--app-out", str(bundle), "--eval-images", "8", "-o", str(tmp_path / "x"))
    assert code == 0, err
    lines = out.strip().splitlines()
    assert f"app bundle (tflite-fp32) in {bundle}" in lines
    assert "next: build and run the sample app in apps/android (its README.md says how)" in lines
    umask = os.umask(0)
    os.umask(umask)
    for folder in (bundle, tmp_path / "x" / "tflite-fp32"):  # not mkdtemp's 0700
        assert folder.stat().st_mode & 0o777 == 0o777 & ~umask, oct(folder.stat().st_mode)
        contract = folder / "edgevit.json"  # nor mkstemp's 0600
        assert contract.stat().st_mode & 0o777 == 0o666 & ~umask, oct(contract.stat().st_mode)


def test_a_static_int8_that_misses_its_numbers_points_to_dynamic():
    from edgevit.errors import ValidationError
    from edgevit.export.pipeline import ExportResult, raise_for_failures
    from edgevit.export.validate import ValidationReport

    def failed(quant: str) -> ExportResult:
        report = ValidationReport("tflite", "int8")
        report.add("top-1 agreement with PyTorch", False, "60.9% of 128 images (needs >= 90%)")
        plan = check_request(FORMATS["tflite"], precision="int8", quant=quant,
                             calib_images=8 if quant == "static" else None)
        return ExportResult(plan, "static", report=report)

    with pytest.raises(ValidationError, match=r"\(no artifact written\); try --quant dynamic$"):
        raise_for_failures([failed("static")])
    with pytest.raises(ValidationError) as e:
        raise_for_failures([failed("dynamic")])
    assert "try --quant" not in str(e.value)
