"""Every fenced code block a reader sees: in the README, the client's README and docs/, with
where it is, so a test can say which test checks each one."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import REPO_ROOT

FENCE = re.compile(r"^```(\S*)\n(.*?)^```[ \t]*$", re.M | re.S)
# Tables written from the code by `make docs-reference` (docs/hooks/reference.py), between
# <!-- cli-reference ... --> or <!-- settings-table --> and their closing markers.
GENERATED = re.compile(r"^<!-- (cli-reference|settings-table)\b.*?^<!-- /\1 -->", re.M | re.S)


@dataclass(frozen=True)
class Block:
    page: str  # relative to the repository, as a reader names it
    line: int  # of the opening fence
    language: str
    text: str
    generated: bool  # inside a table `make docs-reference` writes

    def __str__(self) -> str:
        first = self.text.splitlines()[0] if self.text else ""
        return f"{self.page}:{self.line} ```{self.language} {first[:60]}"


def documented_pages() -> list[Path]:
    pages = [REPO_ROOT / "README.md", REPO_ROOT / "clients" / "python" / "README.md"]
    return pages + sorted((REPO_ROOT / "docs").rglob("*.md"))


def fenced_blocks(page: Path) -> list[Block]:
    text = page.read_text()
    generated = [match.span() for match in GENERATED.finditer(text)]
    return [
        Block(
            page=page.relative_to(REPO_ROOT).as_posix(),
            line=text.count("\n", 0, match.start()) + 1,
            language=match[1],
            text=match[2],
            generated=any(start <= match.start() < end for start, end in generated),
        )
        for match in FENCE.finditer(text)
    ]


def every_block() -> list[Block]:
    return [block for page in documented_pages() for block in fenced_blocks(page)]
