"""Fixtures for export tests: session-wide checkpoints and one shared ONNX export per test model."""

from __future__ import annotations

from pathlib import Path

import pytest
from export_testlib import write_checkpoint


@pytest.fixture(scope="session")
def checkpoint_factory(tmp_path_factory):
    made: dict[str, Path] = {}

    def get(name: str) -> Path:
        if name not in made:
            made[name] = write_checkpoint(tmp_path_factory.mktemp(f"ckpt-{name}") / "ckpt", name)
        return made[name]

    return get


@pytest.fixture(scope="session")
def onnx_exports(checkpoint_factory):
    """One ONNX fp32 export per test model, shared by the fast tests."""
    from edgevit.export.pipeline import ExportRequest, export_checkpoint

    out = {}
    for name in ("mmoe_vit_test", "mobile_vmoe_test"):
        ck = checkpoint_factory(name)
        (res,) = export_checkpoint(ExportRequest(checkpoint=ck, targets="onnx", eval_images=48, random_inputs=8))
        out[name] = res
    return out
