"""Hostile `edgevit.json` files (issue 12, classes 2 and 3): paths confined to the artifact folder, the published
JSON Schema and the value checks on load, model outputs checked finite. All built here; no model is converted."""

from __future__ import annotations

import copy
import json
import math
import os
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import pytest

from edgevit.errors import ContractError, RuntimeHarnessError
from edgevit.runtimes.base import Harness, resolve_artifact
from edgevit.runtimes.contract import MAX_INPUT_PIXELS, contract_schema, load_contract

GOOD: dict[str, Any] = {
    "format_version": 1, "model": {"name": "m", "family": "vit"}, "labels": ["a", "b", "c"],
    "input": {"name": "input", "shape": [1, 3, 8, 8], "layout": "NCHW", "dtype": "float32"},
    "output": {"name": "logits", "shape": [1, 3], "kind": "logits"},
    "preprocess": {"size": [8, 8], "channels": 3, "mean": [0.5] * 3, "std": [0.5] * 3, "resize": "bilinear",
                   "scale": 1 / 255},
    "target": "onnx", "file": "model.onnx", "eval_set": "digits",
}


def _artifact(tmp: Path, name: str, edit=None, raw: str | None = None) -> Path:
    d = tmp / name
    d.mkdir(parents=True)
    (d / "model.onnx").write_bytes(b"not really onnx")
    c = copy.deepcopy(GOOD)
    if edit:
        edit(c)
    (d / "edgevit.json").write_text(raw if raw is not None else json.dumps(c))
    return d


def test_the_published_schema_is_valid_and_accepts_a_good_contract(tmp_path: Path) -> None:
    jsonschema.Draft202012Validator.check_schema(contract_schema())
    shipped = Path(__file__).resolve().parents[2] / "runtimes" / "schema" / "edgevit.schema.json"
    assert json.loads(shipped.read_text()) == contract_schema()  # the file the apps read is the one we check
    c, model = resolve_artifact(_artifact(tmp_path, "good"))
    assert c.labels == ["a", "b", "c"] and model == tmp_path / "good" / "model.onnx"


def _set(path: str, value: Any):
    def edit(c: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        d = c
        for p in parents:
            d = d[p]
        d[last] = value
    return edit


@pytest.mark.parametrize("path, value, words", [
    ("file", "../../etc/passwd", "file"),
    ("file", "/etc/passwd", "file"),
    ("file", "sub/../../x.onnx", "file"),
    ("file", "C:\\\\x.onnx", "file"),
    ("file", "", "file"),
    ("preprocess.std", [0.5, 0.0, 0.5], "std"),
    ("preprocess.std", [0.5, -1.0, 0.5], "std"),
    ("preprocess.mean", [math.nan, 0.5, 0.5], "finite"),
    ("preprocess.std", [math.inf, 0.5, 0.5], "finite"),
    ("preprocess.scale", math.nan, "scale"),
    ("preprocess.size", [100000, 100000], "size"),
    ("preprocess.size", [0, 0], "size"),
    ("preprocess.size", [8], "size"),
    ("preprocess.size", "8x8", "size"),
    ("preprocess.channels", "3", "channels"),
    ("input.shape", [1, 3, 8], "shape"),
    ("input.shape", [1, 3, 16, 16], "does not match preprocess"),
    ("output.shape", [1, 10], "3 labels"),
    ("labels", [], "labels"),
    ("labels", [1, 2, 3], "labels"),
    ("labels", "abc", "labels"),
    ("model", "x", "model"),
    ("input.layout", "HWC", "layout"),
])
def test_bad_values_are_one_contract_error(tmp_path: Path, path: str, value: Any, words: str) -> None:
    d = _artifact(tmp_path, "bad", _set(path, value))
    with pytest.raises(ContractError, match=words) as e:
        resolve_artifact(d)
    assert "\n" not in str(e.value) and "edgevit.json" in str(e.value)


def test_huge_input_is_refused_before_any_allocation(tmp_path: Path) -> None:
    side = int(math.isqrt(MAX_INPUT_PIXELS)) + 8  # each side in the schema's range, the product is not
    d = _artifact(tmp_path, "big", lambda c: (c["preprocess"].update(size=[side, side]),
                                                c["input"].update(shape=[1, 3, side, side])))
    with pytest.raises(ContractError, match="pixels"):
        load_contract(d)


def test_symlink_escape_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "secret"
    outside.mkdir()
    (outside / "model.onnx").write_bytes(b"x")
    d = _artifact(tmp_path, "link", _set("file", "inner/model.onnx"))
    os.symlink(outside, d / "inner")
    with pytest.raises(ContractError, match="symlink"):
        resolve_artifact(d)


@pytest.mark.parametrize("raw, words", [
    ("\udcff".encode("utf-8", "surrogateescape").decode("latin-1") + "{}", "UTF-8"),
    ("[" * 100000 + "]" * 100000, "nested"),
    ("{\"labels\": ", "JSON"),
    ("[1, 2]", "object"),
])
def test_unreadable_contract_text_is_one_error(tmp_path: Path, raw: str, words: str) -> None:
    d = tmp_path / "raw"
    d.mkdir()
    (d / "edgevit.json").write_bytes(raw.encode("latin-1") if words == "UTF-8" else raw.encode())
    with pytest.raises(ContractError, match=words):
        load_contract(d)


def test_a_device_file_as_json_is_refused_not_read_forever(tmp_path: Path) -> None:
    from edgevit.runtimes.files import read_json

    d = tmp_path / "dev"
    d.mkdir()
    os.symlink("/dev/zero", d / "edgevit.json")
    with pytest.raises(ContractError, match="edgevit.json"):
        load_contract(d)
    with pytest.raises(ValueError, match="not a regular file"):
        read_json(d / "edgevit.json")
    (d / "big.json").write_text("[" + "0," * 600 + "0]")
    with pytest.raises(ValueError, match="more than"):
        read_json(d / "big.json", max_bytes=1000)


def test_contract_cannot_make_bench_read_a_file_as_eval_set(tmp_path: Path) -> None:
    from edgevit.errors import DataError
    from edgevit.runtimes.evalset import load_eval_set

    with pytest.raises(DataError, match="not shipped"):
        load_eval_set("npz:/etc/x.npz", from_contract=True)
    assert len(load_eval_set("digits", 4, from_contract=True)) == 4


class _NaNHarness(Harness):
    name = "nan"

    def _load(self) -> None:
        pass

    def _run(self, x: np.ndarray) -> np.ndarray:
        y = np.zeros((x.shape[0], 3), np.float32)
        y[:, 1] = np.nan
        return y


def test_non_finite_model_outputs_are_an_error_not_a_prediction(tmp_path: Path) -> None:
    h = _NaNHarness(_artifact(tmp_path, "nan"))
    with pytest.raises(RuntimeHarnessError, match="non-finite"):
        h.predict(np.zeros((2, 8, 8, 3), np.uint8))
    from edgevit.runtimes.bench import accuracy_metrics

    with pytest.raises(ContractError, match="NaN"):
        accuracy_metrics(np.zeros((2, 3), np.float32), None, np.full((2, 3), np.nan, np.float32))
