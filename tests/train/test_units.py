"""Unit tests of the training pieces: schedule, losses, train state, atomic dirs, super-classes, MAE, --init."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from edgevit import create_model
from edgevit.checkpoint import TRAIN_STATE_FILE, save_checkpoint
from edgevit.errors import CheckpointError, ConfigError, DataError
from edgevit.runtimes import files
from edgevit.runtimes.contract import Preprocess
from edgevit.train import state as st
from edgevit.train.losses import check_superclasses, training_loss
from edgevit.train.recipe import TrainArgs, merge_for_resume, parse_overrides
from edgevit.train.schedule import lr_at, param_groups, warmup_steps
from edgevit.train.superclasses import cluster_confusion, read_superclasses, to_json, write_superclasses


def test_warmup_is_capped_at_a_fifth_of_the_run():
    assert warmup_steps(2.0, 100, 3000) == 200  # 30 epochs: the requested 2 epochs
    assert warmup_steps(2.0, 100, 200) == 40  # 2 epochs: capped, so the cosine half still runs
    lrs = [lr_at(s, 200, 1.0, warmup_steps(2.0, 100, 200)) for s in range(200)]
    assert max(lrs) == pytest.approx(1.0) and lrs[-1] < 0.01


def test_schedule_warmup_then_cosine():
    lrs = [lr_at(s, 100, 1.0, 10, 0.0) for s in range(100)]
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(lrs[10:], lrs[11:], strict=False))
    assert lrs[-1] < 0.01
    assert lr_at(100, 100, 1.0, 10, 0.05) == pytest.approx(0.05)


def test_no_weight_decay_on_norms_biases_and_embeddings():
    m = create_model("vit_test")
    decay, no_decay = param_groups(m, 0.05)
    ids = {id(p) for p in no_decay["params"]}
    assert id(m.pos_embed) in ids and id(m.cls_token) in ids and id(m.head.bias) in ids
    assert id(m.head.weight) not in ids and decay["weight_decay"] == 0.05


def test_superclass_router_loss_and_checks():
    m = create_model("mobile_vmoe_test", num_classes=6).train()
    y = torch.tensor([0, 1, 2, 3, 4, 5])
    logits = m(torch.randn(6, 3, 16, 16))
    sc = torch.tensor([0, 0, 1, 1, 2, 3])
    loss, parts = training_loss(m, logits, y, 0.1, sc)
    assert "router" in parts and torch.isfinite(loss)
    loss.backward()
    assert m.router.proj.weight.grad is not None and m.router.proj.weight.grad.abs().sum() > 0
    check_superclasses(m, sc.tolist(), 6)
    with pytest.raises(ConfigError, match="num_experts=3"):
        check_superclasses(m, [0, 0, 1, 1, 2, 2], 6)
    with pytest.raises(ConfigError, match="Mobile V-MoE"):
        check_superclasses(create_model("mmoe_vit_test", num_classes=6), sc.tolist(), 6)


def test_overrides_and_resume_merge():
    assert parse_overrides(["top_k=1", "experts_per_stage=[2, 2, 2]", "attention=performer"]) == {
        "top_k": 1, "experts_per_stage": (2, 2, 2), "attention": "performer"}
    with pytest.raises(ConfigError):
        parse_overrides(["oops"])
    saved = TrainArgs(model="vit_test", epochs=3)
    assert merge_for_resume(saved, {"epochs": 5}).epochs == 5
    with pytest.raises(ConfigError, match="--resume"):
        merge_for_resume(saved, {"model": "mmoe_vit_test"})


def test_rng_state_roundtrip_and_weights_only(tmp_path):
    torch.manual_seed(3)
    np.random.seed(3)
    st.save_train_state(tmp_path, {"epoch": 2, "step": 10, "optimizer": {"state": {}, "param_groups": []}})
    a = (torch.rand(3), np.random.rand(3))
    loaded = st.load_train_state(tmp_path)  # torch.load(weights_only=True) inside
    st.set_rng_states(loaded["rng"])
    b = (torch.rand(3), np.random.rand(3))
    assert torch.equal(a[0], b[0]) and np.array_equal(a[1], b[1]) and loaded["epoch"] == 2
    (tmp_path / TRAIN_STATE_FILE).write_bytes(b"not a torch file")
    with pytest.raises(CheckpointError, match="corrupt"):
        st.load_train_state(tmp_path)


def test_atomic_dir_swap_and_recovery(tmp_path):
    target = tmp_path / "last"
    files.write_dir_atomically(target, lambda d: (d.mkdir(), (d / "f").write_text("1")))
    files.write_dir_atomically(target, lambda d: (d.mkdir(), (d / "f").write_text("2")))
    assert (target / "f").read_text() == "2" and sorted(p.name for p in tmp_path.iterdir()) == ["last"]

    def boom(d):
        d.mkdir()
        raise RuntimeError("killed mid-write")

    with pytest.raises(RuntimeError):
        files.write_dir_atomically(target, boom)
    assert (target / "f").read_text() == "2" and sorted(p.name for p in tmp_path.iterdir()) == ["last"]
    target.rename(tmp_path / ".last.old")  # a kill between the two renames of a swap
    files.recover_dir(target)
    assert (target / "f").read_text() == "2"


def test_spectral_superclasses_group_confused_classes(tmp_path):
    conf = np.diag([50] * 6).astype(float)
    for a, b in [(0, 1), (2, 3), (4, 5)]:
        conf[a, b] = conf[b, a] = 10
    groups = cluster_confusion(conf, 3)
    assert groups[0] == groups[1] and groups[2] == groups[3] and groups[4] == groups[5] and len(set(groups)) == 3
    labels = [str(i) for i in range(6)]
    path = write_superclasses(tmp_path / "superclasses.json", to_json(groups, labels, {}))
    assert read_superclasses(path, labels)[0] == groups
    with pytest.raises(DataError, match="assigns 6 classes"):
        read_superclasses(path, labels[:5])
    with pytest.raises(ConfigError):
        cluster_confusion(conf, 7)


def test_mae_loss_masks_and_gradients():
    from edgevit.train.mae import MAE

    enc = create_model("mmoe_vit_test")
    mae = MAE(enc, decoder_dim=32, decoder_heads=4).train()
    keep = mae.random_keep(4, torch.device("cpu"))
    assert keep.shape == (4, 4)  # 16 patches, 25% visible
    loss, parts = mae(torch.randn(4, 3, 16, 16))
    loss.backward()
    assert parts["masked"] > 0 and parts["visible"] > 0
    assert enc.patch_embed.proj.weight.grad is not None and enc.head.weight.grad is None
    assert not any(k.startswith("encoder.") for k in mae.decoder_state())
    with pytest.raises(ConfigError, match="linformer"):
        MAE(create_model("vit_test", attention="linformer"))


def test_init_weights_head_reset_pos_resize_and_incompatible(tmp_path):
    from edgevit.train.transfer import load_init_weights

    src = create_model("vit_test", num_classes=10)
    save_checkpoint(tmp_path / "src", src, [str(i) for i in range(10)], Preprocess(size=(16, 16)))
    dst = create_model("vit_test", num_classes=4, img_size=32)
    info = load_init_weights(dst, tmp_path / "src")
    assert info["head_reset"] and info["resized"] == ["pos_embed"]
    same = ("patch_embed.proj.weight", "blocks.2.ffn.fc1.weight")
    assert all(torch.equal(dst.state_dict()[k], src.state_dict()[k]) for k in same)
    with pytest.raises(CheckpointError, match="not compatible"):
        load_init_weights(create_model("mmoe_vit_test", num_classes=4), tmp_path / "src")


def test_dataset_superclasses_resolve():
    from types import SimpleNamespace

    from edgevit.train.superclasses import resolve

    splits = SimpleNamespace(name="cifar100", labels=[str(i) for i in range(4)], superclasses=[0, 1, 1, 0],
                             superclass_names=["a", "b"])
    assert resolve("dataset", splits) == ([0, 1, 1, 0], ["a", "b"])
    assert resolve(None, splits) is None
    with pytest.raises(DataError, match="no super-classes"):
        resolve("dataset", SimpleNamespace(name="digits", superclasses=None))


def test_expert_usage_legend_names_every_expert_and_the_axes_are_labelled() -> None:
    from edgevit.train.plots import _pyplot, expert_usage_figure

    usage = {"blocks.0.ffn": [5, 1, 0], "blocks.1.ffn": [1, 2, 3, 4, 5], "blocks.2.ffn": [2, 2, 2, 2, 2]}
    fig = expert_usage_figure(usage)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [f"expert {e}" for e in range(5)]
    assert ax.get_xlabel() and ax.get_ylabel()
    _pyplot().close(fig)
