"""Helpers for the CLI tests (``modelab`` and ``modelab-analysis``): run ``main`` in process, check help."""

from __future__ import annotations

import argparse
from collections.abc import Callable

import pytest


def run_cli(main: Callable[[list[str]], int], capsys: pytest.CaptureFixture[str],
            argv: list[str]) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of ``main(argv)``; argparse's ``SystemExit`` counts as a return."""
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


def assert_bad_input(main: Callable[[list[str]], int], capsys: pytest.CaptureFixture[str], argv: list[str],
                     fragment: str) -> str:
    """``argv`` exits 2 with nothing on stdout and one ``modelab… error`` line naming ``fragment`` on
    stderr; returns that line."""
    code, out, err = run_cli(main, capsys, argv)
    assert code == 2, (argv, code, err)
    assert out == "", argv
    assert err.endswith("\n") and err.count("\n") == 1, (argv, err)
    assert err.startswith("modelab") and "error" in err, err
    assert fragment in err, (argv, err)
    return err


def subcommand(parser: argparse.ArgumentParser, name: str) -> argparse.ArgumentParser:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action.choices[name]
    raise AssertionError("no subcommands")


def assert_help_documents_every_option(sub: argparse.ArgumentParser, out: str) -> None:
    """Every option of ``sub`` has help text and appears in its ``--help`` output ``out``."""
    for action in sub._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        assert action.help and action.help != argparse.SUPPRESS, action.dest
        for option in action.option_strings:
            assert option in out, option
