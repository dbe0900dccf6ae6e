"""Reference tables generated from the code at build time, so the docs cannot drift from it.

A page asks for a table with a marker on a line of its own:

- ``<!-- settings-table -->``: every field of ``service.settings.Settings``, with its variable,
  default and description;
- ``<!-- cli-reference -->``: the ``--help`` of every command line, from its argparse parser;
  ``<!-- cli-reference segment-train -->``: the help of that one command, where a page explains it.

MkDocs loads this file as a hook (``hooks:`` in ``mkdocs.yml``); the tests import it too.
"""

from __future__ import annotations

import argparse
import re
import sys
import types
import typing
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

SETTINGS_MARKER = "<!-- settings-table -->"
CLI_MARKER = "<!-- cli-reference -->"
COMMAND_MARKER = re.compile(r"<!-- cli-reference (?P<command>[a-z-]+) -->")
HELP_WIDTH = 96


def settings_table() -> str:
    from pydantic_core import PydanticUndefined

    from service.defaults import ENV_PREFIX
    from service.settings import Settings

    rows = ["| variable | type | default | meaning |", "|---|---|---|---|"]
    for name, field in Settings.model_fields.items():
        default = field.default
        shown = "(unset)" if default in (None, (), PydanticUndefined) else f"`{_plain(default)}`"
        description = (field.description or "").replace("|", "\\|")
        rows.append(
            f"| `{ENV_PREFIX}{name.upper()}` | {_type_name(field.annotation)} | {shown} "
            f"| {description} |"
        )
    return "\n".join(rows)


def commands() -> list[tuple[str, argparse.ArgumentParser]]:
    """Every console script of the project with an argparse parser, by its command name."""
    from scoring.cli import build_parser as score_parser
    from training.cli import build_names_parser, build_parser
    from training.sample_data import build_parser as sample_parser

    builders: list[Callable[[], argparse.ArgumentParser]] = [
        build_parser,
        build_names_parser,
        score_parser,
        sample_parser,
    ]
    return [(parser.prog, parser) for parser in (build() for build in builders)]


def cli_reference() -> str:
    sections = [
        "`segment-serve` takes no arguments: it is configured by the environment variables "
        "in [Operations](../operations.md#settings)."
    ]
    for name, parser in commands():
        sections.append(f"## `{name}`")
        for title, each in _with_subcommands(name, parser):
            if title != name:
                sections.append(f"### `{title}`")
            sections.append(_help_block(each))
    return "\n\n".join(sections)


def command_help(command: str) -> str:
    """The ``--help`` of one command (and of its subcommands) as text blocks."""
    parsers = dict(commands())
    if command not in parsers:
        raise ValueError(f"no command {command!r} to document; known: {', '.join(parsers)}")
    return "\n\n".join(
        _help_block(each) for _, each in _with_subcommands(command, parsers[command])
    )


def expand(markdown: str) -> str:
    """``markdown`` with each marker replaced by its generated table."""
    if SETTINGS_MARKER in markdown:
        markdown = markdown.replace(SETTINGS_MARKER, settings_table())
    if CLI_MARKER in markdown:
        markdown = markdown.replace(CLI_MARKER, cli_reference())
    return COMMAND_MARKER.sub(lambda match: command_help(match["command"]), markdown)


def on_page_markdown(markdown: str, **_: Any) -> str:
    return expand(markdown)


def _with_subcommands(
    name: str, parser: argparse.ArgumentParser
) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub_name, sub_parser in action.choices.items():
                yield f"{name} {sub_name}", sub_parser


def _help_block(parser: argparse.ArgumentParser) -> str:
    parser.formatter_class = _fixed_width
    return f"```text\n{parser.format_help().rstrip()}\n```"


def _fixed_width(prog: str) -> argparse.HelpFormatter:
    # The same text whatever terminal builds the docs.
    return argparse.HelpFormatter(prog, width=HELP_WIDTH)


def _plain(value: object) -> str:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def _type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return " \\| ".join(f"`{choice}`" for choice in typing.get_args(annotation))
    if origin is typing.Annotated:
        return _type_name(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        kept = [a for a in typing.get_args(annotation) if a is not type(None)]
        return " \\| ".join(_type_name(a) for a in kept)
    if origin is tuple:
        return "comma-separated list"
    names = {bool: "boolean", int: "integer", float: "number", str: "text", Path: "path"}
    return names.get(annotation, getattr(annotation, "__name__", str(annotation)))
