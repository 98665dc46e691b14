"""The layering contracts in pyproject.toml (import-linter) hold for the code as it is."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_import_contracts_hold() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint), "--config", str(REPO / "pyproject.toml"), "--no-cache"], cwd=REPO,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "BROKEN" not in result.stdout
    assert "4 kept, 0 broken" in result.stdout, result.stdout[-2000:]


def test_no_module_over_400_lines() -> None:
    """A newcomer reads a module top to bottom: each stays under ~400 lines."""
    long = {}
    for folder in ("core", "models", "app", "annotation", "data", "bench"):
        for path in (REPO / folder).rglob("*.py"):
            n = len(path.read_text().splitlines())
            if n > 420:
                long[str(path.relative_to(REPO))] = n
    assert not long, f"split these modules by responsibility: {long}"
