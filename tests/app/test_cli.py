"""The command line: one entry point, ``--help`` on every subcommand."""
from __future__ import annotations

import subprocess
import sys

from app.cli import build_parser
from tests.conftest import REPO


def _subcommands() -> list[str]:
    parser = build_parser()
    action = next(a for a in parser._actions if a.dest == "command")
    return sorted(action.choices)


def test_top_level_help_lists_commands() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "app", "--help"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout
    for name in _subcommands():
        assert name in out


def test_every_subcommand_has_help(capsys) -> None:
    names = _subcommands()
    assert names, "no subcommands registered"
    parser = build_parser()
    for name in names:
        try:
            parser.parse_args([name, "--help"])
        except SystemExit as exit_:
            assert exit_.code == 0
        out = capsys.readouterr().out
        assert f"usage: python -m app {name}" in out


def test_no_command_prints_help_and_fails() -> None:
    proc = subprocess.run([sys.executable, "-m", "app"], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 2
    assert "usage:" in proc.stdout
