"""Install metadata: ranges in the extras, exact pins only in constraints.txt, `all` without dev tools; CI runs
the README's test command."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _extras() -> dict[str, list[str]]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]


def _name(req: str) -> str:
    return re.split(r"[<>=!~\[; ]", req, maxsplit=1)[0].lower().replace("_", "-")


def test_extras_hold_ranges_and_constraints_pin_each_package() -> None:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[_name(name)] = version
    for extra, reqs in _extras().items():
        for req in reqs:
            if req.startswith("edgevit["):
                continue
            if _name(req) == "torch":  # the one exception: any newer torch from PyPI is a multi-GB CUDA build
                assert req.replace(" ", "") == f"torch=={pins['torch']}", f"[{extra}] {req}: torch stays pinned"
                continue
            assert "==" not in req, f"[{extra}] pins {req}: exact versions belong in constraints.txt"
            assert _name(req) in pins, f"[{extra}] {req} has no pin in constraints.txt"


def test_all_is_the_product_without_dev_tools() -> None:
    extras = _extras()
    assert extras["all"] == ["edgevit[pi,train,export]"]
    assert {_name(r) for r in extras["dev"]} == {"pytest", "pytest-xdist", "ruff"}
    assert "matplotlib" not in {_name(r) for r in extras["pi"]}  # the pi stays small: bench plots are optional
    assert '.[all,dev]' in (ROOT / "scripts" / "setup.sh").read_text()


def test_ci_runs_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text()
    commands = [c for c in re.findall(r"```bash\n(.*?)```", readme, re.S) if "pytest" in c]
    assert len(commands) == 1, "the README gives exactly one test command"
    command = commands[0].strip()
    ci = [line for line in (ROOT / ".ci" / "run").read_text().splitlines() if "pytest" in line and not line.startswith("#")]
    assert len(ci) == 1 and ci[0].startswith(command), f".ci/run runs {ci}, the README says {command!r}"
