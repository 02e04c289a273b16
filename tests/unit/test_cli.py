"""The command line imports only the named subcommand's module, and that map stays true."""

from __future__ import annotations

import argparse
import subprocess
import sys

from tracer.cli import COMMANDS, build_parser


def subcommands(parser: argparse.ArgumentParser) -> set[str]:
    actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return set(actions[0].choices)


def test_the_map_names_every_subcommand_and_its_module() -> None:
    assert subcommands(build_parser()) == set(COMMANDS)
    for name in COMMANDS:
        assert name in subcommands(build_parser([name, "--help"]))


def test_run_does_not_import_the_other_commands() -> None:
    code = (
        "import sys; from tracer.cli import build_parser; build_parser(['replay', 'x']); "
        "print(sorted(m for m in sys.modules if m in ('tracer.sources.doctor', "
        "'tracer.cli.tui', 'tracer.cli.lessons', 'tracer.cli.proxy', 'textual')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_no_subcommand_or_an_unknown_one_gets_the_whole_parser() -> None:
    assert subcommands(build_parser(["--version"])) == set(COMMANDS)
    assert subcommands(build_parser(["nosuch"])) == set(COMMANDS)
