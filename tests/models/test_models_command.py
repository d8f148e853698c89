"""`edgevit models`: instant (precomputed table, no torch), honest FLOPs, word/glob queries, 80 columns."""

from __future__ import annotations

import subprocess
import sys

import pytest

from edgevit import create_model
from edgevit.commands.models import model_rows, render_table
from edgevit.models.stats import active_flops, count_flops
from edgevit.models.stats_table import TABLE_PATH, build_table, load_table, model_stats
from edgevit.registry import create_config, find_models, list_models


def test_precomputed_table_is_fresh() -> None:
    """Recomputes every registered model; when this fails run `python -m edgevit.models.stats_table`."""
    assert load_table() == build_table(), f"{TABLE_PATH.name} is stale: python -m edgevit.models.stats_table"


def test_stale_or_missing_entry_is_counted_not_trusted() -> None:
    table = load_table()
    wrong = {**table, "vit_test": {**table["vit_test"], "params": 1}}  # right hash, wrong number: trusted
    stats, counted = model_stats(["vit_test"], wrong)
    assert counted == [] and stats["vit_test"]["params"] == 1
    stale = {"vit_test": {**table["vit_test"], "config_hash": "0" * 16, "params": 1}}
    stats, counted = model_stats(["vit_test"], stale)
    assert counted == ["vit_test"] and stats["vit_test"] == table["vit_test"]


def test_listing_models_imports_no_torch() -> None:
    code = ("import sys\nfrom edgevit.commands.models import model_rows, render_table\n"
            "rows = model_rows('*')\nprint(render_table(rows))\n"
            "assert 'torch' not in sys.modules, 'torch was imported'\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "mobile_vmoe_tiny" in r.stdout and "note:" not in r.stderr


def test_token_routing_active_flops_count_k_experts_per_token() -> None:
    """mmoe_vit_test (experts 2, 3, 4; k=2) needs what the same model with 2 experts per block executes,
    plus its routers' logits for the experts it does not run."""
    full = create_model("mmoe_vit_test").eval()
    k_only = create_model("mmoe_vit_test", experts_per_stage=(2, 2, 2)).eval()
    cfg = full.config
    router_extra = sum(2 * cfg.num_tokens * cfg.dim * (cfg.experts(i) - cfg.top_k) for i in range(cfg.depth))
    assert active_flops(full) == count_flops(k_only) + router_extra < count_flops(full)
    dense = create_model("vit_test")
    assert active_flops(dense) == count_flops(dense)


@pytest.mark.parametrize("query,expected", [
    ("vit", {n for n in list_models() if "vit" in n}),
    ("mlit", {"mmoe_vit_s", "mmoe_vit_xs", "mmoe_vit_xxs", "vit_mlit_s", "vit_mlit_xs", "vit_mlit_xxs"}),
    ("mobile_*", {n for n in list_models() if n.startswith("mobile_")}),
    ("vit_t?2", {"vit_t32"}),
    ("*", set(list_models())),
    ("nothing", set()),
])
def test_word_matches_as_substring_and_globs_still_work(query: str, expected: set[str]) -> None:
    assert set(find_models(query)) == expected


def test_table_fits_80_columns_and_cuts_no_number() -> None:
    rows = model_rows("*")
    text = render_table(rows)
    assert max(len(line) for line in text.splitlines()) <= 80
    for r in rows:
        line = next(ln for ln in text.splitlines() if ln.split()[:1] == [r["name"]])
        cells = line.split()
        assert cells[1] == f"{r['params'] / 1e6:.3f}M" and cells[3] == f"{r['mflops']:.1f}", line
        assert cells[4] == f"{r['mflops_executed']:.1f}"
    assert "\x1b" not in text and "\u2501" not in text  # plain text: no colour codes, no box drawing


def test_rows_report_active_and_executed_flops() -> None:
    rows = {r["name"]: r for r in model_rows("*_test")}
    assert rows["mmoe_vit_test"]["mflops"] < rows["mmoe_vit_test"]["mflops_executed"]
    assert rows["mobile_vmoe_test"]["mflops"] == rows["mobile_vmoe_test"]["mflops_executed"]
    assert rows["vit_test"]["input_size"] == [3, *[create_config("vit_test").img_size] * 2]


def test_checkpoint_description_reports_active_flops(tmp_path) -> None:
    """`edgevit info CHECKPOINT`: a token-routed model's active FLOPs are below what its graph executes."""
    from edgevit.checkpoint import save_checkpoint
    from edgevit.inspect_checkpoint import describe_checkpoint
    from edgevit.runtimes.contract import Preprocess

    model = create_model("mmoe_vit_test")
    save_checkpoint(tmp_path / "c", model, [str(i) for i in range(10)], Preprocess(size=(16, 16)))
    m = describe_checkpoint(tmp_path / "c")["model"]
    assert m["active_flops"] == active_flops(model) < m["flops"] == count_flops(model)
