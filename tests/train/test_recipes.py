"""Named recipes: each trains every *_test model for one step; flags win over the recipe; meta records both."""

from __future__ import annotations

import json

import pytest
from conftest import run_cli

from edgevit.errors import ConfigError
from edgevit.train import recipes
from edgevit.train.api import train

TEST_MODELS = ("vit_test", "mmoe_vit_test", "mobile_vmoe_test")


@pytest.mark.parametrize("name", recipes.names())
def test_every_recipe_trains_every_test_model_one_step(tmp_path, name):
    task = recipes.get(name).task or "classify"
    for model in TEST_MODELS:
        # 40 digits, 10% held out: 36 training images = one step of 32
        given = {"model": model, "recipe": name, "data": "digits", "limit": 40, "epochs": 1, "batch_size": 32,
                 "out": str(tmp_path / model), "task": task, "img_size": 16}
        res = train(recipes.build_args(given), given)
        meta = json.loads((tmp_path / model / "last" / "meta.json").read_text())
        assert meta["steps"] == 1 and meta["args"]["recipe"] == name
        assert res["epochs_done"] == 1.0


def test_flags_override_the_recipe_and_both_are_recorded():
    args = recipes.build_args({"recipe": "cct", "lr": 1e-3, "mixup": 0.0, "overrides": {"drop_path_rate": 0.1}})
    cct = recipes.get("cct").values
    assert args.lr == 1e-3 and args.mixup == 0.0  # given
    assert args.cutmix == cct["cutmix"] and args.randaugment == cct["randaugment"]  # from the recipe
    args = recipes.build_args({"recipe": "small-data-vit", "overrides": {"drop_path_rate": 0.1}})
    assert args.overrides == {"patch_size": 4, "drop_path_rate": 0.1} and args.img_size == "native"


def test_lr_is_scaled_from_the_recipes_reference_batch():
    args = recipes.build_args({"recipe": "small-data-vit", "batch_size": 512})
    assert args.lr_batch == 128
    assert args.peak_lr() == pytest.approx(args.lr * 2.0)  # sqrt(512 / 128)
    args.lr_scaling = "linear"
    assert args.peak_lr() == pytest.approx(args.lr * 4.0)
    args.batch_size = args.lr_batch
    assert args.peak_lr() == args.lr


def test_unknown_recipe_and_wrong_command_are_config_errors():
    with pytest.raises(ConfigError, match="unknown recipe"):
        recipes.build_args({"recipe": "nope"})
    with pytest.raises(ConfigError, match="edgevit pretrain"):
        recipes.build_args({"recipe": "mae", "task": "classify"})


@pytest.mark.parametrize("name", recipes.names())
def test_every_recipe_passes_its_own_checks(name):
    task = recipes.get(name).task or "classify"
    recipes.build_args({"recipe": name, "task": task})  # raises ConfigError on a value out of range


@pytest.mark.parametrize("given, flag", [
    ({"epochs": 0}, "--epochs"), ({"batch_size": 0}, "--batch-size"), ({"lr": -1.0}, "--lr"),
    ({"lr": 0.0}, "--lr"), ({"min_lr": 0.1}, "--min-lr"), ({"weight_decay": -0.1}, "--weight-decay"),
    ({"warmup_epochs": -1.0}, "--warmup-epochs"), ({"clip_grad": -1.0}, "--clip-grad"),
    ({"val_fraction": 1.0}, "--val-fraction"), ({"limit": 0}, "--limit"), ({"patience": -1}, "--patience"),
    ({"crop_padding": -2}, "--crop-padding"), ({"random_erasing": 1.5}, "--random-erasing"),
    ({"lr_batch": 0}, "--lr-batch"),
])
def test_out_of_range_values_are_config_errors_naming_the_flag(given, flag):
    with pytest.raises(ConfigError, match=f"^{flag} must be"):
        recipes.build_args(given)


def test_cli_recipe_and_native_size_reach_the_checkpoint(tmp_path, capsys):
    out = tmp_path / "run"
    code, _, err = run_cli(["train", "--model", "vit_test", "--recipe", "small-data-vit", "--data", "digits",
                            "--limit", "120", "--epochs", "1", "--batch-size", "32", "--out", str(out)], capsys)
    assert code == 0, err
    cfg = json.loads((out / "best" / "config.json").read_text())
    assert cfg["img_size"] == 8 and cfg["patch_size"] == 4  # digits are 8 px
    meta = json.loads((out / "best" / "meta.json").read_text())
    assert meta["args"]["recipe"] == "small-data-vit" and meta["augment"]["hflip"] is True
    code, _, err = run_cli(["train", "--recipe", "nope", "--out", str(tmp_path / "x")], capsys)
    assert code == 1 and "unknown recipe" in err and "Traceback" not in err
