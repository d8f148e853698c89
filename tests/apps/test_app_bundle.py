"""`edgevit.export.app_bundle`: bundles are complete and self-consistent, writes are atomic, and the apps'
preprocessing (the Python mirror) fed to the bundled model gives the runtime path's top-1 on real digits.

Fast tests use a small real .tflite checked in under tests/apps/data; the slow ones convert fresh models
with litert-torch (NCHW and NHWC) and coremltools (.mlpackage, plain and classifier).
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from app_testlib import FIXTURE_TFLITE, LABELS, PRE, TRAIN_N, make_contract, tflite_logits

from edgevit.errors import ExportError
from edgevit.export.app_bundle import check_app_bundle, write_app_bundle
from edgevit.runtimes.contract import Preprocess, load_contract, preprocess_images


def test_fixture_tflite_exists():
    assert FIXTURE_TFLITE.is_file(), "regenerate with .venv/bin/python tests/apps/app_testlib.py"


def _fixture_contract():
    return make_contract("NCHW", "tflite", "model.tflite")


def _leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith("."))


def _top1_agreement(bundle: Path, ref, digits, app: str = "android"):
    """Runtime path vs the app's preprocessing, both through the bundle's model; returns (agree, acc)."""
    images, labels = digits
    contract = load_contract(bundle)  # the runtime reads the bundled contract...
    spec = ref.AppSpec.load(bundle)  # ...and so does the app
    x_runtime = preprocess_images(images, contract.preprocess, contract.layout)
    x_app = np.concatenate([ref.app_preprocess(im, spec, app) for im in images])
    np.testing.assert_array_equal(x_app, x_runtime)
    model = bundle / "model.tflite"
    logits_runtime = tflite_logits(model, x_runtime)
    logits_app = tflite_logits(model, x_app)
    top_runtime, top_app = logits_runtime.argmax(1), logits_app.argmax(1)
    held_out_acc = float((top_runtime[TRAIN_N:] == labels[TRAIN_N:]).mean())
    return top_runtime, top_app, held_out_acc


# ------------------------------------------------------------------------------------------ fast


def test_android_bundle_is_complete_and_self_consistent(tmp_path, digits):
    out = write_app_bundle(FIXTURE_TFLITE, _fixture_contract(), "android", tmp_path / "assets")
    assert out == tmp_path / "assets"
    assert sorted(p.name for p in out.iterdir()) == [
        "edgevit.json", "eval.bin", "eval.json", "labels.txt", "model.tflite", "sample.png"]
    assert check_app_bundle(out) == []
    assert (out / "labels.txt").read_text().splitlines() == LABELS
    contract = load_contract(out)
    assert contract.file == "model.tflite" and contract.labels == LABELS
    assert contract.input_shape == (1, 3, *PRE.size)
    assert (out / "model.tflite").read_bytes() == FIXTURE_TFLITE.read_bytes()
    from PIL import Image

    with Image.open(out / "sample.png") as im:
        sample = np.asarray(im)
    np.testing.assert_array_equal(sample, np.repeat(digits[0][0][..., None], 3, axis=-1))
    meta = json.loads((out / "eval.json").read_text())
    assert (meta["name"], meta["n"], meta["height"], meta["width"], meta["channels"]) == ("digits", 360, 8, 8, 3)
    assert meta["labels"] == digits[1].tolist()
    rgb = np.frombuffer((out / "eval.bin").read_bytes(), np.uint8).reshape(360, 8, 8, 3)
    np.testing.assert_array_equal(rgb, np.repeat(digits[0][..., None], 3, axis=-1))
    assert _leftovers(tmp_path) == []


def test_accuracy_on_the_bundled_eval_set_matches_the_runtime(tmp_path, ref):
    """What the apps' benchmark screens compute from eval.json/eval.bin == edgevit's runtime accuracy."""
    bundle = write_app_bundle(FIXTURE_TFLITE, _fixture_contract(), "android", tmp_path / "assets")
    meta = json.loads((bundle / "eval.json").read_text())
    rgb = np.frombuffer((bundle / "eval.bin").read_bytes(), np.uint8).reshape(
        meta["n"], meta["height"], meta["width"], 3)
    labels = np.asarray(meta["labels"])
    spec = ref.AppSpec.load(bundle)
    x_app = np.concatenate([ref.app_preprocess(im, spec, "android") for im in rgb])
    acc_app = float((tflite_logits(bundle / "model.tflite", x_app).argmax(1) == labels).mean())

    from edgevit.runtimes.evalset import shipped_digits

    ev = shipped_digits()
    c = load_contract(bundle)
    x_rt = preprocess_images(ev.images, c.preprocess, c.layout)
    acc_rt = float((tflite_logits(bundle / "model.tflite", x_rt).argmax(1) == ev.labels).mean())
    assert acc_app == acc_rt > 0.6


def test_eval_set_options(tmp_path, digits):
    from edgevit.runtimes.evalset import EvalSet

    out = write_app_bundle(FIXTURE_TFLITE, _fixture_contract(), "android", tmp_path / "a", max_eval=0)
    assert not (out / "eval.json").exists() and not (out / "eval.bin").exists()
    assert check_app_bundle(out) == []

    rgb = np.stack([np.full((5, 7, 3), i * 20, np.uint8) for i in range(10)])
    ev = EvalSet("mine", rgb, np.arange(10))
    out = write_app_bundle(FIXTURE_TFLITE, _fixture_contract(), "android", tmp_path / "b", evalset=ev, max_eval=4)
    meta = json.loads((out / "eval.json").read_text())
    assert (meta["name"], meta["n"], meta["labels"]) == ("mine[:4]", 4, [0, 1, 2, 3])
    assert (out / "eval.bin").stat().st_size == 4 * 5 * 7 * 3
    from PIL import Image

    with Image.open(out / "sample.png") as im:  # the sample defaults to the eval set's first image
        np.testing.assert_array_equal(np.asarray(im), rgb[0])

    bad = EvalSet("bad", rgb, np.arange(10) + 5)  # labels 10..14 do not fit 10 classes
    with pytest.raises(ExportError, match="labels outside"):
        write_app_bundle(FIXTURE_TFLITE, _fixture_contract(), "android", tmp_path / "c", evalset=bad)

    (out / "eval.bin").write_bytes(b"\0" * 10)
    assert any("eval.bin holds 10 bytes" in p for p in check_app_bundle(out))
    (out / "eval.bin").unlink()
    assert any("go together" in p for p in check_app_bundle(out))


def test_app_preprocessing_gives_the_runtime_top1_on_digits(tmp_path, ref, digits):
    """The claim the README makes: the app's exact preprocessing + the bundled model == edgevit's runtime path."""
    bundle = write_app_bundle(FIXTURE_TFLITE, _fixture_contract(), "android", tmp_path / "assets")
    for app in ("android", "ios"):
        top_runtime, top_app, acc = _top1_agreement(bundle, ref, digits, app)
        assert len(top_app) == len(digits[0]) == 360
        np.testing.assert_array_equal(top_app, top_runtime)
    assert acc > 0.6, f"the fixture model should classify digits (held-out accuracy {acc:.2f})"


def test_bundled_sample_png_is_classified_like_the_runtime(tmp_path, ref, digits):
    from PIL import Image

    bundle = write_app_bundle(FIXTURE_TFLITE, _fixture_contract(), "android", tmp_path / "assets")
    with Image.open(bundle / "sample.png") as im:
        decoded = np.asarray(im.convert("RGBA"))  # what Bitmap.getPixels sees (alpha 255)
    x_app = ref.app_preprocess(decoded, ref.AppSpec.load(bundle), "android")
    c = load_contract(bundle)
    x_runtime = preprocess_images(digits[0][:1], c.preprocess, c.layout)
    np.testing.assert_array_equal(x_app, x_runtime)
    a = tflite_logits(bundle / "model.tflite", x_app)
    b = tflite_logits(bundle / "model.tflite", x_runtime)
    assert a.argmax() == b.argmax()


def test_rewrite_replaces_the_bundle_and_keeps_other_files(tmp_path):
    out = tmp_path / "assets"
    write_app_bundle(FIXTURE_TFLITE, _fixture_contract(), "android", out)
    (out / "README.txt").write_text("kept\n")
    (out / "labels.txt").write_text("stale\n")
    image = np.arange(12 * 10 * 3, dtype=np.uint8).reshape(12, 10, 3)
    export_dir = tmp_path / "export"  # an export folder: the artifact is contract.file inside it
    export_dir.mkdir()
    shutil.copy(FIXTURE_TFLITE, export_dir / "model.tflite")
    write_app_bundle(export_dir, _fixture_contract(), "android", out, sample=image)
    assert (out / "README.txt").read_text() == "kept\n"
    assert (out / "labels.txt").read_text().splitlines() == LABELS
    from PIL import Image

    with Image.open(out / "sample.png") as im:
        np.testing.assert_array_equal(np.asarray(im), image)
    assert check_app_bundle(out) == []
    assert _leftovers(tmp_path) == []


def _assert_untouched(out: Path, before: dict[str, bytes]):
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert _leftovers(out.parent) == []


@pytest.mark.parametrize("case", ["input-size", "layout", "channels", "labels", "label-newline", "empty-last-label"])
def test_inconsistent_bundle_is_refused_and_the_old_one_kept(tmp_path, case):
    out = tmp_path / "assets"
    write_app_bundle(FIXTURE_TFLITE, _fixture_contract(), "android", out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    if case == "input-size":
        bad = make_contract("NCHW", "tflite", "model.tflite", pre=Preprocess(
            size=(16, 16), channels=3, mean=PRE.mean, std=PRE.std))
        match = "input shape"
    elif case == "layout":
        bad = make_contract("NHWC", "tflite", "model.tflite")  # the model takes NCHW
        match = "input shape"
    elif case == "channels":
        bad = make_contract("NCHW", "tflite", "model.tflite", pre=Preprocess(
            size=PRE.size, channels=1, mean=(0.5,), std=(0.5,)))
        match = "input shape"
    elif case == "labels":
        bad = make_contract("NCHW", "tflite", "model.tflite", labels=[*LABELS, "extra"])
        match = "labels"
    elif case == "label-newline":
        bad = make_contract("NCHW", "tflite", "model.tflite", labels=[*LABELS[:-1], "nine\nten"])
        match = "line break"
    else:
        bad = make_contract("NCHW", "tflite", "model.tflite", labels=[*LABELS[:-1], ""])
        match = "last label is empty"
    with pytest.raises(ExportError, match=match):
        write_app_bundle(FIXTURE_TFLITE, bad, "android", out)
    _assert_untouched(out, before)


def test_bad_artifacts_and_apps_are_refused(tmp_path):
    c = _fixture_contract()
    with pytest.raises(ExportError, match="unknown app"):
        write_app_bundle(FIXTURE_TFLITE, c, "web", tmp_path / "x")
    with pytest.raises(ExportError, match=".tflite"):
        write_app_bundle(tmp_path / "missing.tflite", c, "android", tmp_path / "x")
    with pytest.raises(ExportError, match=".mlpackage"):
        write_app_bundle(FIXTURE_TFLITE, c, "ios", tmp_path / "x")
    corrupt = tmp_path / "corrupt.tflite"
    corrupt.write_bytes(b"not a flatbuffer" * 8)
    with pytest.raises(ExportError, match="does not load"):
        write_app_bundle(corrupt, c, "android", tmp_path / "x")
    assert not (tmp_path / "x").exists()
    assert _leftovers(tmp_path) == []


def test_check_app_bundle_reports_problems(tmp_path):
    assert check_app_bundle(tmp_path / "nope") == [f"{tmp_path / 'nope'} is not a folder"]
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "expected exactly one" in check_app_bundle(empty)[0]
    assert set(check_app_bundle(empty, "android")) == {
        "model.tflite is missing", "labels.txt is missing", "edgevit.json is missing", "sample.png is missing"}

    out = write_app_bundle(FIXTURE_TFLITE, _fixture_contract(), "android", tmp_path / "assets")
    (out / "labels.txt").write_text("\n".join(LABELS[::-1]) + "\n")
    assert any("labels.txt" in p for p in check_app_bundle(out))

    out = write_app_bundle(FIXTURE_TFLITE, _fixture_contract(), "android", tmp_path / "assets2")
    d = json.loads((out / "edgevit.json").read_text())
    d["input"]["layout"] = "NHWC"
    (out / "edgevit.json").write_text(json.dumps(d))
    problems = check_app_bundle(out)
    assert any("does not match preprocess size" in p for p in problems), problems

    out = write_app_bundle(FIXTURE_TFLITE, _fixture_contract(), "android", tmp_path / "assets4")
    d = json.loads((out / "edgevit.json").read_text())
    d["input"]["shape"], d["input"]["layout"] = [1, 18, 14, 3], "NHWC"
    (out / "edgevit.json").write_text(json.dumps(d))
    assert [p for p in check_app_bundle(out) if "model.tflite input shape" in p], check_app_bundle(out)

    out = write_app_bundle(FIXTURE_TFLITE, _fixture_contract(), "android", tmp_path / "assets3")
    (out / "sample.png").write_bytes(b"\x89PNG broken")
    assert any("sample.png" in p for p in check_app_bundle(out))


def test_default_destination_without_the_app_tree(tmp_path, monkeypatch):
    import edgevit.export.app_bundle as ab

    monkeypatch.setattr(ab, "REPO_ROOT", tmp_path)
    with pytest.raises(ExportError, match="pass --out"):
        write_app_bundle(FIXTURE_TFLITE, _fixture_contract(), "android")
    (tmp_path / "apps/android/app/src/main").mkdir(parents=True)
    out = write_app_bundle(FIXTURE_TFLITE, _fixture_contract(), "android")
    assert out == tmp_path / "apps/android/app/src/main/assets" and check_app_bundle(out) == []


def test_ios_package_without_manifest_is_refused(tmp_path):
    pkg = tmp_path / "model.mlpackage"
    pkg.mkdir()
    with pytest.raises(ExportError, match=".mlpackage"):
        write_app_bundle(pkg, make_contract("NCHW", "coreml", "model.mlpackage"), "ios", tmp_path / "Resources")


# ------------------------------------------------------------------------------------------ slow


@pytest.mark.slow
@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_fresh_litert_export_bundles_and_agrees(layout, request, tmp_path, ref, digits):
    exported = request.getfixturevalue(f"tflite_{layout.lower()}")
    bundle = write_app_bundle(exported.artifact, exported.contract, "android", tmp_path / "assets")
    assert check_app_bundle(bundle) == []
    top_runtime, top_app, acc = _top1_agreement(bundle, ref, digits)
    np.testing.assert_array_equal(top_app, top_runtime)
    assert acc > 0.6


@pytest.mark.slow
def test_coreml_bundle_plain_model(coreml_plain, tmp_path):
    bundle = write_app_bundle(coreml_plain.artifact, coreml_plain.contract, "ios", tmp_path / "Resources")
    assert sorted(p.name for p in bundle.iterdir()) == [
        "Model.mlpackage", "edgevit.json", "eval.bin", "eval.json", "labels.txt", "sample.png"]
    assert (bundle / "Model.mlpackage" / "Manifest.json").is_file()
    assert check_app_bundle(bundle) == []
    assert load_contract(bundle).file == "Model.mlpackage"


@pytest.mark.slow
def test_coreml_bundle_classifier_labels_checked(coreml_classifier, tmp_path):
    bundle = write_app_bundle(coreml_classifier.artifact, coreml_classifier.contract, "ios", tmp_path / "Resources")
    assert check_app_bundle(bundle, "ios") == []
    renamed = make_contract("NCHW", "coreml", "model.mlpackage", labels=[f"class-{i}" for i in range(10)])
    with pytest.raises(ExportError, match="classifier labels"):
        write_app_bundle(coreml_classifier.artifact, renamed, "ios", tmp_path / "Resources")
    assert check_app_bundle(bundle) == []  # the good bundle is still there


@pytest.mark.slow
def test_coreml_bundle_wrong_input_shape(coreml_plain, tmp_path):
    bad = make_contract("NCHW", "coreml", "model.mlpackage", pre=Preprocess(
        size=(16, 16), channels=3, mean=PRE.mean, std=PRE.std))
    with pytest.raises(ExportError, match="input shape"):
        write_app_bundle(coreml_plain.artifact, bad, "ios", tmp_path / "Resources")


def _run_mil_program(package: Path, x: np.ndarray) -> np.ndarray:
    """Evaluate the ML program stored in a .mlpackage with torch, op by op, for the ops the tiny CNN converts
    to. Not Core ML (whose runtime exists only on macOS): a reading of the package's graph and weights that
    proves they compute the model; an op outside this set fails the test instead of being skipped."""
    import coremltools as ct
    import torch
    import torch.nn.functional as F
    from coremltools.converters.mil.frontend.milproto.load import load as load_mil

    ml = ct.models.MLModel(str(package), skip_model_load=True)
    spec = ml.get_spec()
    main = load_mil(spec, spec.specificationVersion, file_weights_dir=ml.weights_dir).functions["main"]
    (name,) = main.inputs
    env: dict[str, torch.Tensor] = {name: torch.from_numpy(np.ascontiguousarray(x, np.float32))}

    def val(op, key):
        v = op.inputs[key]
        return v.val if v.val is not None else env[v.name]

    def t(v):
        return v if isinstance(v, torch.Tensor) else torch.as_tensor(np.asarray(v, np.float32))

    for op in main.operations:
        kind = op.op_type
        if kind == "const":
            continue
        if kind == "conv":
            assert str(val(op, "pad_type")) == "custom" and int(val(op, "groups")) == 1
            top, bottom, left, right = (int(p) for p in val(op, "pad"))
            xin = F.pad(t(val(op, "x")), (left, right, top, bottom))
            out = F.conv2d(xin, t(val(op, "weight")), t(val(op, "bias")), stride=tuple(int(s) for s in val(op, "strides")),
                           dilation=tuple(int(d) for d in val(op, "dilations")))
        elif kind == "relu":
            out = torch.relu(t(val(op, "x")))
        elif kind == "reduce_mean":
            out = t(val(op, "x")).mean(dim=[int(a) for a in val(op, "axes")], keepdim=bool(val(op, "keep_dims")))
        elif kind == "reshape":
            out = t(val(op, "x")).reshape([int(d) for d in val(op, "shape")])
        elif kind == "linear":
            out = F.linear(t(val(op, "x")), t(val(op, "weight")), t(val(op, "bias")))
        else:
            raise AssertionError(f"op {kind!r} in {package.name}: not one the tiny CNN converts to")
        env[op.outputs[0].name] = out
    (result,) = main.outputs
    return env[result.name].numpy()


@pytest.mark.slow
def test_coreml_package_computes_the_model(coreml_plain, trained_model, digits):
    """The strongest check Linux allows: the package's graph, run with torch from its own stored (fp16)
    weights, gives the PyTorch model's top-1 on the digits test images past the training split."""
    import torch

    images = digits[0][TRAIN_N:]
    x = preprocess_images(images, PRE, "NCHW")
    got = np.concatenate([_run_mil_program(coreml_plain.artifact, x[i : i + 1]) for i in range(len(x))])
    with torch.no_grad():
        want = trained_model(torch.from_numpy(x)).numpy()
    assert got.shape == want.shape
    assert (got.argmax(-1) == want.argmax(-1)).mean() >= 0.99
    # fp16 weights: close, not equal
    assert np.abs(got - want).max() <= 1e-2 * max(1.0, float(np.abs(want).max()))


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "darwin", reason="Core ML prediction runs only on macOS (coremltools: "
                    "'Model prediction is only supported on macOS'); the package's graph and weights are checked above")
def test_coreml_bundle_predicts_like_the_runtime_on_macos(coreml_plain, tmp_path, ref, digits):
    import coremltools as ct

    bundle = write_app_bundle(coreml_plain.artifact, coreml_plain.contract, "ios", tmp_path / "Resources")
    model = ct.models.MLModel(str(bundle / "Model.mlpackage"))
    c = load_contract(bundle)
    spec = ref.AppSpec.load(bundle)
    images = digits[0][:64]
    agree = 0
    for image in images:
        x_app = ref.app_preprocess(image, spec, "ios")
        x_rt = preprocess_images(image[None], c.preprocess, c.layout)
        a = model.predict({"input": x_app})["logits"].argmax()
        b = model.predict({"input": x_rt})["logits"].argmax()
        agree += int(a == b)
    assert agree == len(images)
