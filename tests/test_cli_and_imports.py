"""The CLI shell and the torch-free promise of `import edgevit` / `import edgevit.runtimes`."""

from __future__ import annotations

import json
import subprocess
import sys

from typer.testing import CliRunner

from edgevit import __version__
from edgevit.cli import app


def test_version() -> None:
    r = CliRunner().invoke(app, ["--version"])
    assert r.exit_code == 0 and __version__ in r.output


def test_models_json_lists_the_zoo() -> None:
    r = CliRunner().invoke(app, ["models", "*_test", "--json"])
    assert r.exit_code == 0, r.output
    rows = {row["name"]: row for row in json.loads(r.output)}
    assert set(rows) == {"vit_test", "mmoe_vit_test", "mobile_vmoe_test"}
    for row in rows.values():
        assert row["params"] >= row["active_params"] > 0 and row["mflops"] > 0
    assert rows["mobile_vmoe_test"]["active_params"] < rows["mobile_vmoe_test"]["params"]


def test_models_table_and_unknown_pattern() -> None:
    from edgevit import create_model
    from edgevit.models.stats import count_params

    r = CliRunner().invoke(app, ["models", "mmoe_vit_xxs"])
    params = f"{count_params(create_model('mmoe_vit_xxs')) / 1e6:.3f}M"  # the table's unit and precision
    assert r.exit_code == 0 and "mmoe_vit_xxs" in r.output and params in r.output
    bad = subprocess.run([sys.executable, "-m", "edgevit", "models", "nope*"], capture_output=True, text=True)
    assert bad.returncode == 1 and "no model matches" in bad.stderr and "Traceback" not in bad.stderr


def test_import_edgevit_and_runtimes_without_torch() -> None:
    code = (
        "import sys\n"
        "import edgevit, edgevit.runtimes, edgevit.runtimes.contract, edgevit.errors\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
        "print('ok')\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0 and "ok" in r.stdout, r.stderr
