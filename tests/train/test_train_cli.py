"""The training commands end to end on tiny models: train, eval, superclasses, --init, pretrain, bad input."""

from __future__ import annotations

import json

import numpy as np
import torch
from conftest import TINY, metrics, run_cli
from PIL import Image

from edgevit.checkpoint import load_checkpoint, read_checkpoint_info


def test_train_writes_best_last_metrics_and_plots(tmp_path, capsys):
    out = tmp_path / "run"
    code, stdout, err = run_cli(["train", "--model", "mmoe_vit_test", *TINY, "--out", str(out)], capsys)
    assert code == 0, err
    assert f"edgevit export --checkpoint {out / 'best'} --target onnx" in stdout
    for f in ("best/model.safetensors", "best/config.json", "last/train_state.pt", "metrics.jsonl", "curves.png",
              "expert_usage.png", "results.json", "eval/eval.json", "eval/confusion.png"):
        assert (out / f).is_file(), f
    recs = metrics(out)
    assert [r["epoch"] for r in recs] == [1, 2] and all(0 <= r["val_acc"] <= 1 for r in recs)
    assert "expert_usage" in recs[-1]
    info = read_checkpoint_info(out / "best")
    assert info.meta["data"]["spec"] == "digits" and info.meta["seed"] == 0 and "test_acc" in info.meta["metrics"]
    assert not (out / "best" / "train_state.pt").exists()
    # the run directory refuses a second, non-resumed run
    code, _, err = run_cli(["train", "--model", "mmoe_vit_test", *TINY, "--out", str(out)], capsys)
    assert code == 1 and "--resume" in err


def test_eval_json_and_report(dense_run, tmp_path, capsys):
    code, stdout, err = run_cli(["eval", "--checkpoint", str(dense_run / "best"), "--data", "digits", "--json",
                                 "--out", str(tmp_path / "ev")], capsys)
    assert code == 0, err
    res = json.loads(stdout)
    assert 0.0 <= res["accuracy"] <= 1.0 and res["count"] == 360 and len(res["confusion"]) == 10
    assert len(res["per_class_accuracy"]) == 10 and (tmp_path / "ev" / "confusion.png").is_file()
    assert json.loads((tmp_path / "ev" / "eval.json").read_text())["accuracy"] == res["accuracy"]


def test_superclasses_then_mobile_vmoe_with_router_loss(dense_run, tmp_path, capsys):
    sc = tmp_path / "superclasses.json"
    code, stdout, err = run_cli(["superclasses", "--checkpoint", str(dense_run / "best"), "--data", "digits",
                                 "--num", "4", "--out", str(sc)], capsys)
    assert code == 0, err
    data = json.loads(sc.read_text())
    assert data["num_superclasses"] == 4 and sorted(set(data["assignment"])) == [0, 1, 2, 3]
    assert sum(len(g) for g in data["groups"]) == 10
    out = tmp_path / "moe"
    code, _, err = run_cli(["train", "--model", "mobile_vmoe_test", *TINY, "--superclasses", str(sc),
                            "--out", str(out)], capsys)
    assert code == 0, err
    assert read_checkpoint_info(out / "best").meta["superclasses"]["assignment"] == data["assignment"]
    # mismatched expert count: one clear line, nothing written
    code, _, err = run_cli(["train", "--model", "mobile_vmoe_test", *TINY, "--superclasses", str(sc),
                            "--set", "num_experts=3", "--out", str(tmp_path / "bad")], capsys)
    assert code == 1 and "num_experts=4" in err and not (tmp_path / "bad").exists()


def test_init_from_other_checkpoint_resets_head(dense_run, tmp_path, capsys):
    out = tmp_path / "ft"
    code, _, err = run_cli(["train", "--init", str(dense_run / "best"), *TINY[:-4], "--epochs", "1",
                            "--batch-size", "32", "--out", str(out)], capsys)
    assert code == 0, err
    meta = read_checkpoint_info(out / "last").meta
    assert meta["init"]["source_model"] == "vit_test"
    code, _, err = run_cli(["train", "--model", "mmoe_vit_test", "--init", str(dense_run / "best"), *TINY,
                            "--out", str(tmp_path / "bad")], capsys)
    assert code == 1 and "not compatible" in err and not (tmp_path / "bad").exists()
    assert err.count("\n") <= 2


def test_pretrain_then_finetune(tmp_path, capsys):
    pre = tmp_path / "mae"
    code, stdout, err = run_cli(["pretrain", "--model", "vit_test", *TINY, "--out", str(pre)], capsys)
    assert code == 0, err
    assert "edgevit train --init" in stdout and (pre / "curves.png").is_file()
    info = read_checkpoint_info(pre / "best")
    assert info.meta["task"] == "mae" and "decoder" in torch.load(pre / "last" / "train_state.pt", weights_only=True)
    recs = metrics(pre)
    assert all(r["val_loss"] > 0 for r in recs)
    ft = tmp_path / "ft"
    code, _, err = run_cli(["train", "--init", str(pre / "best"), *TINY, "--out", str(ft)], capsys)
    assert code == 0, err
    enc, _ = load_checkpoint(pre / "best")
    tuned, info = load_checkpoint(ft / "best")
    assert info.meta["init"]["head_reset"] is True
    assert not torch.equal(enc.patch_embed.proj.weight, tuned.patch_embed.proj.weight)  # fine-tuned from there


def test_bad_inputs_are_one_line_errors(dense_run, tmp_path, capsys):
    cases = [
        (["train", "--model", "no_such_model", "--out", str(tmp_path / "a")], "unknown model"),
        (["train", "--model", "vit_test", "--data", "nosuchset", "--out", str(tmp_path / "b")], "nosuchset"),
        (["train", "--model", "vit_test", "--data", f"imagefolder:{tmp_path / 'missing'}",
          "--out", str(tmp_path / "c")], "missing"),
        (["train", "--model", "vit_test", *TINY, "--set", "nonsense=1", "--out", str(tmp_path / "d")], "nonsense"),
        (["eval", "--checkpoint", str(tmp_path / "nowhere"), "--data", "digits"], "not found"),
        (["train", "--model", "vit_test", *TINY, "--batch-size", "0", "--out", str(tmp_path / "e")], "--batch-size"),
        (["train", "--model", "vit_test", *TINY, "--lr", "-1", "--out", str(tmp_path / "f")], "--lr"),
        (["pretrain", "--model", "vit_test", *TINY, "--epochs", "0", "--out", str(tmp_path / "g")], "--epochs"),
    ]
    broken = tmp_path / "broken"
    broken.mkdir()
    for f in (dense_run / "best").iterdir():
        (broken / f.name).write_bytes(f.read_bytes())
    (broken / "model.safetensors").write_bytes(b"\x00" * 20)
    cases.append((["eval", "--checkpoint", str(broken), "--data", "digits"], "corrupt"))
    three = tmp_path / "three"  # an image folder with 3 classes: the 10-class checkpoint does not fit it
    for c in "abc":
        (three / c).mkdir(parents=True)
        for i in range(4):
            Image.fromarray(np.full((8, 8), 40 * i, np.uint8)).save(three / c / f"{i}.png")
    cases.append((["eval", "--checkpoint", str(dense_run / "best"), "--data", f"imagefolder:{three}"], "10 classes"))
    for args, needle in cases:
        code, _, err = run_cli(args, capsys)
        assert code == 1, (args, err)
        assert needle in err and "Traceback" not in err and err.strip().count("\n") <= 1, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken", "three"]  # nothing half-written
