"""Predict's inputs: image formats Pillow reads, bad files reported per file, artifact mistakes as one error,
and the device-side entry point running with torch unimportable."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from edgevit.errors import ContractError, RuntimeHarnessError
from edgevit.runtimes.__main__ import main as device_main
from edgevit.runtimes.contract import Preprocess
from edgevit.runtimes.images import ImageError, input_notes, read_image
from edgevit.runtimes.predict import run_predict, top_k

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def onnx_art(models: Path) -> Path:
    return models / "digits" / "export" / "onnx-fp32"


def _digit(i: int = 0) -> np.ndarray:
    return np.load(REPO / "runtimes" / "data" / "digits_test.npz")["images"][i]


def _good(folder: Path, n: int = 3) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        p = folder / f"digit{i}.png"
        Image.fromarray(_digit(i)).save(p)
        paths.append(p)
    return paths


# ------------------------------------------------------------------------------------------------ reading


def test_read_image_modes(tmp_path: Path) -> None:
    rgb = np.random.default_rng(0).integers(0, 256, (12, 10, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "rgb.png")
    assert np.array_equal(read_image(tmp_path / "rgb.png"), rgb)
    rgba = np.concatenate([rgb, np.full((12, 10, 1), 7, np.uint8)], axis=-1)
    Image.fromarray(rgba, "RGBA").save(tmp_path / "rgba.png")
    assert np.array_equal(read_image(tmp_path / "rgba.png"), rgb)  # alpha dropped
    Image.fromarray(rgb).convert("P").save(tmp_path / "pal.png")
    assert read_image(tmp_path / "pal.png").shape == (12, 10, 3)
    Image.fromarray(rgb).convert("CMYK").save(tmp_path / "cmyk.jpg")
    assert read_image(tmp_path / "cmyk.jpg").shape == (12, 10, 3)
    Image.fromarray(np.full((5, 6), 65535, np.uint16)).save(tmp_path / "deep.png")  # 16-bit grey
    deep = read_image(tmp_path / "deep.png")
    assert deep.dtype == np.uint8 and deep.shape == (5, 6) and (deep == 255).all()
    Image.fromarray(_digit()).convert("RGB").save(tmp_path / "greyrgb.bmp")
    assert np.array_equal(read_image(tmp_path / "greyrgb.bmp"), _digit())  # equal channels read as grey
    frames = [Image.fromarray(np.full((4, 4), v, np.uint8)) for v in (10, 200)]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:])
    assert read_image(tmp_path / "anim.gif").shape == (4, 4)  # first frame


def test_read_image_applies_exif_rotation(tmp_path: Path) -> None:
    im = Image.fromarray(np.zeros((10, 20, 3), np.uint8) + np.array([200, 10, 10], np.uint8))
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90° clockwise to display
    im.save(tmp_path / "phone.jpg", exif=exif)
    assert read_image(tmp_path / "phone.jpg").shape == (20, 10, 3)


@pytest.mark.parametrize("name, data, message", [
    ("notes.txt", b"not a picture at all\n", "not an image"),
    ("empty.png", b"", "empty file"),
    ("fake.jpg", b"\xff\xd8\xff\xe0" + b"\x00" * 20, "damaged image, or not really a .jpg file"),
    ("photo.png", b"GIF89a" + b"\x00" * 3, "damaged image, or not really a .png file"),
])
def test_read_image_errors(tmp_path: Path, name: str, data: bytes, message: str) -> None:
    (tmp_path / name).write_bytes(data)
    with pytest.raises(ImageError, match=message):
        read_image(tmp_path / name)


def test_truncated_files_fail_on_read(tmp_path: Path) -> None:
    big = np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    for suffix in (".png", ".jpg"):
        Image.fromarray(big).save(tmp_path / f"full{suffix}")
        raw = (tmp_path / f"full{suffix}").read_bytes()
        (tmp_path / f"cut{suffix}").write_bytes(raw[: len(raw) // 2])
        with pytest.raises(ImageError, match="truncated|unreadable"):
            read_image(tmp_path / f"cut{suffix}")


def test_input_notes_and_strict_channels() -> None:
    grey, colour = np.zeros((8, 8), np.uint8), np.zeros((8, 8, 3), np.uint8)
    rgb_stats = Preprocess(size=(16, 16), channels=3, mean=(0.4, 0.5, 0.6), std=(0.2, 0.2, 0.2))
    grey_trained = Preprocess(size=(16, 16), channels=3, mean=(0.3,) * 3, std=(0.4,) * 3)
    grey_model = Preprocess(size=(16, 16), channels=1, mean=(0.5,), std=(0.5,))
    assert input_notes(grey, rgb_stats) == ["grey, repeated to 3 channels (the model was trained on colour)"]
    assert input_notes(grey, grey_trained) == []  # a model trained on grey repeated to RGB: nothing unusual
    assert input_notes(colour, grey_model) == ["colour, averaged to grey"]
    assert input_notes(np.zeros((30, 40, 3), np.uint8), rgb_stats) == ["40x30 squeezed to 16x16"]
    with pytest.raises(ImageError, match="model takes colour"):
        input_notes(grey, grey_trained, strict_channels=True)
    with pytest.raises(ImageError, match="model takes grey"):
        input_notes(colour, grey_model, strict_channels=True)


def test_top_k() -> None:
    labels = ["a", "b", "c"]
    out = top_k(np.array([0.0, 2.0, 1.0]), labels, 2)
    assert [o["label"] for o in out] == ["b", "c"] and out[0]["prob"] > out[1]["prob"]
    assert len(top_k(np.zeros(3), labels, 10)) == 3  # clamped to the classes
    probs = top_k(np.array([0.2, 0.5, 0.3]), labels, 3, "probabilities")  # already probabilities: kept
    assert [round(o["prob"], 6) for o in probs] == [0.5, 0.3, 0.2]


# ------------------------------------------------------------------------------------------------ running


def test_bad_files_do_not_stop_the_others(onnx_art: Path, tmp_path: Path) -> None:
    good = _good(tmp_path / "in")
    (tmp_path / "in" / "skipped.txt").write_text("hello")  # in a folder, only image files count
    (tmp_path / "readme.txt").write_text("hello")  # named directly: reported
    raw = good[0].read_bytes()
    (tmp_path / "in" / "zz_cut.png").write_bytes(raw[: len(raw) // 2])
    (tmp_path / "in" / ".DS_Store").write_bytes(b"\0\1")  # hidden: skipped
    report = run_predict([tmp_path / "in", tmp_path / "readme.txt", tmp_path / "missing.png"], onnx_art, topk=2)
    by_name = {Path(f["path"]).name: f for f in report["files"]}
    assert set(by_name) == {"digit0.png", "digit1.png", "digit2.png", "readme.txt", "zz_cut.png", "missing.png"}
    assert all(by_name[f"digit{i}.png"]["ok"] and len(by_name[f"digit{i}.png"]["top"]) == 2 for i in range(3))
    assert "not an image" in by_name["readme.txt"]["error"]
    assert "truncated" in by_name["zz_cut.png"]["error"]
    assert by_name["missing.png"]["error"] == "no such file or folder"
    assert report["summary"] == {**report["summary"], "files": 6, "ok": 3, "failed": 3}


def test_grey_model_notes_and_strict(models: Path, tmp_path: Path) -> None:
    grey_art = models / "grey" / "export" / "onnx-fp32"
    colour = tmp_path / "colour.png"
    Image.fromarray(np.random.default_rng(2).integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(colour)
    _good(tmp_path, 1)
    report = run_predict([colour, tmp_path / "digit0.png"], grey_art)
    f_colour, f_grey = report["files"]
    assert f_colour["ok"] and f_colour["notes"] == ["colour, averaged to grey"] and f_colour["channels"] == 3
    assert f_grey["ok"] and f_grey["notes"] == [] and f_grey["channels"] == 1
    strict = run_predict([colour, tmp_path / "digit0.png"], grey_art, strict_channels=True)
    assert not strict["files"][0]["ok"] and "model takes grey" in strict["files"][0]["error"]
    assert strict["files"][1]["ok"]
    strict_rgb = run_predict([tmp_path / "digit0.png"], models / "digits" / "export" / "onnx-fp32",
                             strict_channels=True)
    assert "model takes colour" in strict_rgb["files"][0]["error"]


def test_artifact_mistakes_are_one_clear_error(onnx_art: Path, tmp_path: Path) -> None:
    imgs = _good(tmp_path / "in", 1)
    bare = tmp_path / "bare"
    bare.mkdir()
    (bare / "model.onnx").write_bytes((onnx_art / "model.onnx").read_bytes())
    with pytest.raises(ContractError, match="no edgevit.json beside it"):
        run_predict(imgs, bare / "model.onnx")
    with pytest.raises(ContractError, match="no edgevit.json"):
        run_predict(imgs, bare)
    with pytest.raises(RuntimeHarnessError, match="holds 2 artifacts; pick one"):
        run_predict(imgs, onnx_art.parent)
    with pytest.raises(RuntimeHarnessError, match="does not exist"):
        run_predict(imgs, tmp_path / "nowhere")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "model.onnx").write_bytes(b"garbage" * 100)
    (broken / "edgevit.json").write_text((onnx_art / "edgevit.json").read_text())
    with pytest.raises(RuntimeHarnessError, match="cannot load|model.onnx"):
        run_predict(imgs, broken)
    with pytest.raises(RuntimeHarnessError, match="topk"):
        run_predict(imgs, onnx_art, topk=0)


def test_main_exit_codes(onnx_art: Path, models: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    imgs = _good(tmp_path / "in", 2)
    assert device_main(["predict", str(tmp_path / "in"), "--artifact", str(onnx_art), "--json", "-k", "1"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [len(f["top"]) for f in out["files"]] == [1, 1]
    (tmp_path / "in" / "bad.jpg").write_text("x")
    assert device_main(["predict", str(tmp_path / "in"), "-a", str(onnx_art)]) == 1
    cap = capsys.readouterr()
    # the table folds long paths (xdist's tmp folders), so read the summary line under it
    assert "2 of 3 files predicted" in " ".join(cap.out.split())
    assert "1 of 3 files could not be predicted: bad.jpg" in " ".join(cap.err.split())
    assert device_main(["predict", str(imgs[0]), "-c", str(models / "digits" / "best"), "-r", "onnx"]) == 1
    assert "--checkpoint runs in torch" in capsys.readouterr().err
    assert device_main(["predict", str(imgs[0]), "-c", str(models / "digits" / "best")]) == 0
    assert "torch" in capsys.readouterr().out
    # --runtime torch on an artifact runs its contract's source checkpoint
    assert device_main(["predict", str(imgs[0]), "-a", str(onnx_art), "-r", "torch", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["runtime"]["name"] == "torch"
    assert device_main(["predict", str(imgs[0])]) == 2  # neither --artifact nor --checkpoint: a usage error
    assert "exactly one of --artifact" in capsys.readouterr().err


def test_cli_predict_errors_are_one_line(onnx_art: Path, tmp_path: Path) -> None:
    """`edgevit predict` as a user runs it: per-file failures -> exit 1 with one error line, no traceback."""
    _good(tmp_path / "in", 1)
    (tmp_path / "notes.txt").write_text("x")  # named directly (a non-image in a folder is skipped)
    bare = tmp_path / "bare"
    bare.mkdir()
    (bare / "model.onnx").write_bytes(b"x")
    for args, needle in ((["-a", str(onnx_art)], "1 of 2 files could not be predicted"),
                         (["-a", str(bare / "model.onnx")], "has no edgevit.json beside it")):
        proc = subprocess.run([sys.executable, "-m", "edgevit", "predict", str(tmp_path / "in"),
                               str(tmp_path / "notes.txt"), *args],
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 1 and needle in " ".join(proc.stderr.split()), proc.stderr
        assert "Traceback" not in proc.stderr


NO_TORCH = ("import sys\n"
            "for m in ('torch', 'torchvision', 'executorch', 'litert_torch', 'edgevit.models', 'edgevit.train',\n"
            "          'edgevit.export', 'edgevit.checkpoint'):\n"
            "    sys.modules[m] = None  # any import of these raises ImportError\n"
            "from edgevit.runtimes.__main__ import main\n"
            "from edgevit.runtimes.describe import describe_artifact\n"
            "rc = main(['predict', *sys.argv[1:]])\n"
            "assert sys.modules.get('torch') is None, 'torch was imported'\n"
            "print('RUNTIME', describe_artifact(sys.argv[3])['runtime'], file=sys.stderr)\n"
            "sys.exit(rc)\n")


def _no_torch_env(tmp: Path) -> dict[str, str]:
    """The environment of a torch-free device for the children predict starts (the model runs in a child):
    a sitecustomize.py that blocks the same imports as NO_TORCH."""
    shim = tmp / "no-torch-shim"
    shim.mkdir(exist_ok=True)
    (shim / "sitecustomize.py").write_text(NO_TORCH.split("from edgevit")[0])
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(shim), os.environ.get("PYTHONPATH", "")])}


@pytest.mark.parametrize("fmt", ["onnx", "tflite"])
def test_predict_runs_without_torch(models: Path, fmt: str, tmp_path: Path) -> None:
    imgs = _good(tmp_path / "in", 3)
    art = models / "digits" / "export" / f"{fmt}-fp32"
    proc = subprocess.run([sys.executable, "-c", NO_TORCH, str(tmp_path / "in"), "--artifact", str(art), "--json"],
                          capture_output=True, text=True, timeout=120, env=_no_torch_env(tmp_path))
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["runtime"]["name"] == fmt and report["summary"]["ok"] == 3 and f"RUNTIME {fmt}" in proc.stderr
    here = run_predict(imgs, art)
    assert [f["top"][0]["label"] for f in report["files"]] == [f["top"][0]["label"] for f in here["files"]]


def test_torch_runtime_without_torch_is_a_clear_error(models: Path, tmp_path: Path) -> None:
    _good(tmp_path / "in", 1)
    proc = subprocess.run([sys.executable, "-c", NO_TORCH, str(tmp_path / "in"), "--artifact",
                           str(models / "digits" / "export" / "onnx-fp32"), "--runtime", "torch"],
                          capture_output=True, text=True, timeout=120, env=_no_torch_env(tmp_path))
    assert proc.returncode == 1 and "edgevit[train]" in proc.stderr and "Traceback" not in proc.stderr


def test_edgevit_cli_predict_and_info_without_torch(models: Path, tmp_path: Path) -> None:
    """On a Pi the `edgevit` command itself (pi extra, no torch) predicts and describes artifacts."""
    _good(tmp_path / "in", 2)
    art = models / "digits" / "export" / "tflite-fp32"
    code = ("import sys\n"
            "for m in ('torch', 'litert_torch', 'executorch', 'edgevit.models', 'edgevit.train',\n"
            "          'edgevit.export'):\n"
            "    sys.modules[m] = None\n"
            "from edgevit.cli import main\n"
            "main(sys.argv[1:])\n")
    for args in (["predict", str(tmp_path / "in"), "-a", str(art), "--json"], ["info", str(art), "--json"]):
        proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120,
                              env=_no_torch_env(tmp_path))
        assert proc.returncode == 0, proc.stderr
        out = json.loads(proc.stdout)
        runtime = out["runtime"]["name"] if args[0] == "predict" else out["runtime"]
        assert runtime == "tflite"
