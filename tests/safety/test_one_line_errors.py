"""Issue 12, class 6: every hostile input gives one `error:` line and a non-zero exit, never a traceback, and
leaves nothing half-written. Checkpoints and runs are built here with the tiny registered test models."""

from __future__ import annotations

import errno
import json
import os
import shutil
from pathlib import Path

import pytest
from safety_testlib import one_error_line, run_cli

TINY = ["--data", "digits", "--limit", "64", "--epochs", "1", "--batch-size", "32"]


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory) -> Path:
    from edgevit.checkpoint import save_checkpoint
    from edgevit.registry import create_model
    from edgevit.runtimes.contract import Preprocess

    model = create_model("vit_test")
    path = tmp_path_factory.mktemp("ck") / "vit"
    pre = Preprocess(size=(model.config.img_size,) * 2)
    save_checkpoint(path, model, [str(i) for i in range(model.config.num_classes)], pre)
    return path


def _edited(ckpt: Path, tmp: Path, **changes) -> Path:
    d = Path(shutil.copytree(ckpt, tmp / "edited"))
    cfg = json.loads((d / "config.json").read_text())
    cfg.update(changes)
    (d / "config.json").write_text(json.dumps(cfg))
    return d


def test_wrong_shaped_weights_with_the_right_keys(ckpt: Path, tmp_path: Path, capsys) -> None:
    cfg = json.loads((ckpt / "config.json").read_text())
    d = _edited(ckpt, tmp_path, dim=cfg["dim"] * 2, num_heads=cfg["num_heads"])
    for cmd in (["info", str(d)], ["export", "--checkpoint", str(d), "--target", "onnx", "--out", str(tmp_path / "x")]):
        code, _, err = run_cli(cmd, capsys)
        assert code == 1 and "other shapes" in one_error_line(err), err
    assert not (tmp_path / "x").exists() or not any((tmp_path / "x").rglob("edgevit.json"))


@pytest.mark.parametrize("field, value", [("dim", "64"), ("depth", 2.5), ("class_token", 1), ("mean", ["a"] * 3)])
def test_config_values_of_the_wrong_type(ckpt: Path, tmp_path: Path, capsys, field: str, value) -> None:
    code, _, err = run_cli(["info", str(_edited(ckpt, tmp_path, **{field: value}))], capsys)
    assert code == 1 and field in one_error_line(err)


def test_wrong_typed_set_override(tmp_path: Path, capsys) -> None:
    code, _, err = run_cli(["train", "--model", "vit_test", *TINY, "--set", "dim=abc", "--out", str(tmp_path / "r")],
                           capsys)
    assert code == 1 and "dim" in one_error_line(err)
    assert not (tmp_path / "r" / "last").exists()


def test_labels_json_pointing_at_a_device_file(ckpt: Path, tmp_path: Path, capsys) -> None:
    d = Path(shutil.copytree(ckpt, tmp_path / "dev"))
    (d / "labels.json").unlink()
    os.symlink("/dev/zero", d / "labels.json")
    code, _, err = run_cli(["info", str(d)], capsys)
    assert code == 1 and "not a regular file" in one_error_line(err)


def test_out_naming_a_regular_file(tmp_path: Path, capsys) -> None:
    f = tmp_path / "file"
    f.write_text("mine")
    code, _, err = run_cli(["train", "--model", "vit_test", *TINY, "--out", str(f)], capsys)
    assert code == 1 and one_error_line(err)
    assert f.read_text() == "mine"


def test_bench_bad_numbers_and_device(tmp_path: Path, capsys) -> None:
    code, _, err = run_cli(["bench", "--artifact", str(tmp_path), "--batch", "-1"], capsys)
    assert code != 0 and "--batch" in one_error_line(err)
    code, _, err = run_cli(["bench", "--artifact", str(tmp_path), "--device", "ssh://[::1;x]"], capsys)
    assert code != 0 and "::1;x" in one_error_line(err)


def test_disk_full_during_training_publishes_nothing(tmp_path: Path, capsys, monkeypatch) -> None:
    import edgevit.runtimes.files as files

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(files.os, "fsync", full)
    out = tmp_path / "run"
    code, _, err = run_cli(["train", "--model", "vit_test", *TINY, "--out", str(out)], capsys)
    assert code == 1 and "No space left on device" in one_error_line(err)
    left = [p.name for p in out.rglob("*")] if out.exists() else []
    assert not any(n.endswith(".tmp") for n in left) and "best" not in left and "last" not in left, left


def test_resume_with_another_models_train_state(tmp_path: Path, capsys) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    assert run_cli(["train", "--model", "vit_test", *TINY, "--out", str(a)], capsys)[0] == 0
    assert run_cli(["train", "--model", "vit_test", *TINY, "--set", "dim=48", "--out", str(b)], capsys)[0] == 0
    shutil.copy(b / "last" / "train_state.pt", a / "last" / "train_state.pt")
    before = (a / "last" / "model.safetensors").read_bytes()
    code, _, err = run_cli(["train", "--out", str(a), "--resume", "--epochs", "2"], capsys)
    assert code == 1 and "cannot be resumed" in one_error_line(err)
    assert (a / "last" / "model.safetensors").read_bytes() == before


def test_diverging_moe_training_is_one_line(tmp_path: Path, capsys) -> None:
    code, _, err = run_cli(["train", "--model", "mmoe_vit_test", "--data", "digits", "--limit", "256", "--epochs",
                            "2", "--batch-size", "32", "--lr", "1e9", "--clip-grad", "0", "--out",
                            str(tmp_path / "r")], capsys)
    assert code == 1 and "lower --lr" in one_error_line(err)


def test_kill_9_leftover_temps_are_cleaned_on_the_next_write(tmp_path: Path) -> None:
    from edgevit.runtimes.files import atomic_write_text, write_dir_atomically

    dead = 2 ** 22 + 12345  # above any default pid_max: no live process has it
    (tmp_path / f".r.json.{dead}.x1.tmp").write_text("half")
    (tmp_path / f".last.{dead}.ab12cd34.tmp").mkdir()
    (tmp_path / f".last.{dead}.ab12cd34.tmp" / "model.safetensors").write_bytes(b"half")
    live = tmp_path / f".r.json.{os.getppid()}.x2.tmp"  # the test runner's parent is alive
    live.write_text("a live writer's")
    atomic_write_text(tmp_path / "r.json", "{}")
    write_dir_atomically(tmp_path / "last", lambda t: t.mkdir())
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["last", "r.json", live.name])


def test_bench_report_skips_hostile_result_files(tmp_path: Path, capsys) -> None:
    from edgevit.runtimes.bench import new_result, write_result

    good = new_result(model="m", artifact="a", status="ok", batch=1)
    good["runtime"]["name"] = "onnx"
    write_result(good, tmp_path)
    (tmp_path / "nested.json").write_text("[" * 200000 + "]" * 200000)
    (tmp_path / "latin1.json").write_bytes(b'{"schema": "edgevit.bench/1", "model": "\xff"}')
    os.symlink("/dev/zero", tmp_path / "zero.json")
    code, out, err = run_cli(["bench", "report", str(tmp_path), "--json"], capsys)
    assert code == 0 and "Traceback" not in err, err
    assert [r["model"] for r in json.loads(out)] == ["m"]
    from edgevit.runtimes.job import BenchJob

    with pytest.raises(SystemExit) as e:
        BenchJob.from_argv(["--job", "[" * 100000 + "]" * 100000])
    assert e.value.code == 2


def test_a_file_where_a_folder_belongs(ckpt: Path, tmp_path: Path, capsys) -> None:
    """A file given as --out, checkpoint or artifact: one line that names the file and says what was expected."""
    afile = tmp_path / "afile"
    afile.write_text("not a folder")
    cases = {
        ("export", "--checkpoint", str(ckpt), "--target", "onnx", "--out", str(afile / "sub")): "is a file, where a folder",
        ("train", "--model", "vit_test", *TINY, "--out", str(afile)): "is a file, where a folder is needed",
        ("eval", "--checkpoint", str(afile), "--data", "digits"): "a checkpoint is a folder",
        ("bench", "--artifact", str(afile)): f"no edgevit.json beside {afile}",
        ("info", str(afile)): f"no edgevit.json beside {afile}",
    }
    for cmd, needle in cases.items():
        code, out, err = run_cli(list(cmd), capsys)
        assert code == 1 and needle in one_error_line(err) and str(afile) in one_error_line(err), (cmd, err)
        assert not out.strip(), (cmd, out)  # nothing on stdout before the error (no blank progress line)
    assert afile.read_text() == "not a folder"
