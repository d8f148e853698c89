"""Facts about the machine a bench ran on (stdlib only: runs on a Pi, a Mac, a workstation)."""

from __future__ import annotations

import os
import platform
import re
import subprocess
import sys
from pathlib import Path
from typing import Any


def cpu_model() -> str:
    """A human CPU name: /proc/cpuinfo (x86 'model name', Arm 'Model'/'Hardware'), sysctl on macOS."""
    try:
        text = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        text = ""
    for key in ("model name", "Model", "Hardware", "cpu model", "Processor"):
        m = re.search(rf"^{key}\s*:\s*(.+)$", text, re.MULTILINE)
        if m and m.group(1).strip():
            return m.group(1).strip()
    if not text:
        try:
            # an Arm board without 'model name' still names itself in the device tree
            return Path("/proc/device-tree/model").read_text(errors="replace").strip("\x00 \n")
        except OSError:
            pass
    if sys.platform == "darwin":
        try:
            return subprocess.run(["sysctl", "-n", "machdep.cpu.brand_string"], capture_output=True,
                                  text=True, timeout=5).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            pass
    return platform.processor() or platform.machine() or "unknown"


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def machine_facts() -> dict[str, Any]:
    return {
        "cpu": cpu_model(),
        "cores": usable_cores(),
        "arch": platform.machine(),
        "os": platform.platform(terse=False),
        "python": platform.python_version(),
        "hostname": platform.node(),
    }


def slug(text: str, limit: int = 40) -> str:
    """A file-name-safe piece: letters, digits, '.', '_' ; others become '-'."""
    s = re.sub(r"[^A-Za-z0-9._]+", "-", text).strip("-.")
    return s[:limit] or "unknown"


def machine_name(facts: dict[str, Any] | None = None) -> str:
    """Short machine label for result file names: $EDGEVIT_MACHINE, else the host name."""
    env = os.environ.get("EDGEVIT_MACHINE")
    if env:
        return slug(env)
    facts = facts or machine_facts()
    return slug(str(facts.get("hostname") or facts.get("arch") or "machine").split(".")[0])


def peak_rss_mb() -> float | None:
    """This process's peak resident set size (MB), or None where `resource` is missing (Windows)."""
    try:
        import resource
    except ImportError:
        return None
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(rss / (1024 * 1024) if sys.platform == "darwin" else rss / 1024, 2)
