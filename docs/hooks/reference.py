"""Reference tables generated from the code, committed into the Markdown between markers, so
the docs read the same on GitHub and on the site and cannot drift from the code.

A page asks for a table with an opening marker on a line of its own; the table follows it, up to
the closing marker:

- ``<!-- settings-table -->``: every field of ``service.settings.Settings``, with its variable,
  default and description;
- ``<!-- cli-reference -->``: the ``--help`` of every command line, from its argparse parser;
  ``<!-- cli-reference segment-train -->``: the help of that one command, where a page explains it.

``python docs/hooks/reference.py`` (``make docs-reference``) rewrites the tables after a change
to a setting or an option; a test fails while any page is out of date. Building the site needs
only MkDocs: nothing here runs at build time.
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

DOCS_DIR = REPO_ROOT / "docs"
# An opening marker, then the generated text (if any yet), then the closing marker (if any yet).
MARKED = re.compile(
    r"^<!-- (?P<kind>settings-table|cli-reference)(?: (?P<command>[a-z-]+))? -->\n"
    r"(?:(?P<body>.*?)^<!-- /(?P=kind) -->\n)?",
    re.MULTILINE | re.DOTALL,
)
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
    from service.__main__ import build_parser as serve_parser
    from training.cli import build_names_parser, build_parser
    from training.sample_data import build_parser as sample_parser
    from training.versions import build_compare_parser, build_promote_parser

    builders: list[Callable[[], argparse.ArgumentParser]] = [
        build_parser,
        build_names_parser,
        build_compare_parser,
        build_promote_parser,
        score_parser,
        sample_parser,
        serve_parser,
    ]
    return [(parser.prog, parser) for parser in (build() for build in builders)]


def cli_reference() -> str:
    sections = [
        "`segment-serve` takes no option but `--help`: it is configured by the environment "
        "variables in [Operations](../operations.md#settings)."
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
    """``markdown`` with the text after each opening marker replaced by its generated table."""

    def table(match: re.Match[str]) -> str:
        kind, command = match["kind"], match["command"]
        if kind == "settings-table":
            generated = settings_table()
        elif command:
            generated = command_help(command)
        else:
            generated = cli_reference()
        opening = f"<!-- {kind}{' ' + command if command else ''} -->"
        # Blank lines around the table: Markdown ends an HTML comment's block at a blank line.
        return f"{opening}\n\n{generated}\n\n<!-- /{kind} -->\n"

    return MARKED.sub(table, markdown)


def stale_pages(docs_dir: Path = DOCS_DIR) -> list[Path]:
    """The pages whose generated tables differ from what the code generates now."""
    return [page for page in sorted(docs_dir.rglob("*.md")) if expand(t := page.read_text()) != t]


def main() -> int:
    for page in stale_pages():
        page.write_text(expand(page.read_text()))
        sys.stdout.write(f"updated {page.relative_to(REPO_ROOT)}\n")
    return 0


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


if __name__ == "__main__":
    raise SystemExit(main())
