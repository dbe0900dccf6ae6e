"""The CRM round trip exactly as docs/crm.md shows it, on a real PostgreSQL and a real server.

The page's shell blocks are run as a data engineer would paste them, with ``CRM_URL`` pointing
at the suite's PostgreSQL instead of the page's example host; the request of the serving step
goes to a real server process. If the page's commands stop working, this test says so.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import signal
from pathlib import Path

import httpx
import pandas as pd
import pytest
import sqlalchemy

from segmentation.metadata import current_version
from tests import shell
from tests.conftest import REPO_ROOT
from tests.docs.conftest import VERSION
from tests.postgres import PostgresServer
from tests.real_server import start_server
from training.sample_data import generate_customers

pytestmark = pytest.mark.e2e

PAGE = REPO_ROOT / "docs" / "crm.md"
CUSTOMERS = 400
# The page's own example of where the CRM database is; the test's replaces it.
EXAMPLE_URL = re.compile(r"^export CRM_(?:WRITER_)?URL=.*$", re.MULTILINE)


def shell_blocks() -> list[str]:
    return re.findall(r"```sh\n(.*?)```", PAGE.read_text(), re.DOTALL)


def block_with(command: str) -> str:
    found = [block for block in shell_blocks() if re.search(rf"^{command} ", block, re.M)]
    assert len(found) == 1, f"docs/crm.md should show {command} in one sh block"
    return found[0]


def paste(block: str, folder: Path, crm_url: str) -> str:
    """Run a block of the page as pasted, with the suite's database instead of the example's."""
    return shell.paste(EXAMPLE_URL.sub("", block), folder, CRM_URL=crm_url, CRM_WRITER_URL=crm_url)


def assert_shaped_as_shown(printed: str) -> None:
    """The summary has the page's lines, with our counts, version and database."""
    [shown] = re.findall(r"```text\n(scored .*?)```", PAGE.read_text(), re.DOTALL)
    summary, segment, more = shown.splitlines()
    assert more == "  ..."
    placeholders = VERSION.sub("<version>", summary)
    placeholders = placeholders.replace(
        "postgresql+psycopg://crm_writer@db.internal:5432/crm", "<url>"
    )
    placeholders = placeholders.replace("1,000,000", "<n>").replace("19,412", "<n>")
    shape = (
        re.escape(placeholders)
        .replace("<version>", VERSION.pattern)
        .replace("<url>", r"postgresql\+psycopg://\S+")
        .replace("<n>", r"[\d,]+")
    )
    first, *segments = printed.splitlines()
    assert re.fullmatch(shape, first), (shape, first)
    assert re.fullmatch(r"  segment 0: [^:]+: [\d,]+", segment)
    assert re.fullmatch(r"  segment 0: [^:]+: [\d,]+", segments[0])


def test_the_round_trip_as_the_docs_show_it(postgres: PostgresServer, tmp_path: Path) -> None:
    assert EXAMPLE_URL.search(block_with("segment-train")), "step 1 sets CRM_URL"
    crm_url = postgres.url(postgres.create_database())
    # A CRM's own column names, which the page's --columns maps to ours.
    table = generate_customers(CUSTOMERS, seed=21).frame.rename(
        columns={
            "CustomerID": "id",
            "Age": "age_years",
            "Annual Income (k$)": "income_k",
            "Spending Score (1-100)": "score",
            "Gender": "gender",
        }
    )
    table["email"] = [f"customer{i}@example.com" for i in table["id"]]
    engine = sqlalchemy.create_engine(crm_url)
    try:
        with engine.begin() as connection:
            table.to_sql("customers", connection, index=False)

        # 1. Train from the customers table.
        paste(block_with("segment-train"), tmp_path, crm_url)
        version = current_version(tmp_path / "models")

        # 2. Serve it, and send the page's request.
        serve = block_with("SEGMENT_MODELS_DIR=models segment-serve")
        lines = serve.replace("\\\n", " ").splitlines()
        curl = shlex.split(next(line for line in lines if line.startswith("curl")))
        body = json.loads(curl[curl.index("-d") + 1])
        server = start_server(tmp_path / "models", tmp_path / "server.log")
        try:
            server.wait_for()
            answer = httpx.post(f"{server.url}/segment", json=body, timeout=30)
        finally:
            output = server.stop()
        assert server.process.returncode in (0, -signal.SIGTERM), output
        assert answer.status_code == 200, answer.text
        assert answer.json()["model_version"] == version

        # 3. Score the table back, twice (the nightly re-run).
        printed = paste(block_with("segment-score"), tmp_path, crm_url)
        assert f"scored {CUSTOMERS} customers with {version} into table 'customer_segments'" in (
            printed
        )
        assert_shaped_as_shown(printed)
        paste(block_with("segment-score"), tmp_path, crm_url)
        with engine.connect() as connection:
            written = pd.read_sql_query(
                sqlalchemy.text("SELECT * FROM customer_segments ORDER BY customer_id"),
                connection,
            )
    finally:
        engine.dispose()
    assert written["customer_id"].tolist() == sorted(table["id"])
    assert set(written["model_version"]) == {version}


def test_the_scoring_pages_table_line_writes_back(
    postgres: PostgresServer, trained_models: Path, tmp_path: Path
) -> None:
    """docs/scoring.md's database line: a table with the study's column names (no --columns),
    its example URL replaced by the suite's PostgreSQL, the models in ./models."""
    [line] = [
        b
        for b in re.findall(
            r"```sh\n(.*?)```", (REPO_ROOT / "docs" / "scoring.md").read_text(), re.S
        )
        if b.startswith("segment-score --data postgresql")
    ]
    example = "postgresql+psycopg://user@host/crm"
    assert example in line
    crm_url = postgres.url(postgres.create_database())
    engine = sqlalchemy.create_engine(crm_url)
    try:
        with engine.begin() as connection:
            generate_customers(250, seed=22).frame.to_sql("customers", connection, index=False)
        shutil.copytree(trained_models, tmp_path / "models")
        printed = shell.paste(line.replace(example, crm_url), tmp_path)
        assert "scored 250 customers with " in printed
        with engine.connect() as connection:
            count = connection.exec_driver_sql("SELECT count(*) FROM customer_segments").scalar()
    finally:
        engine.dispose()
    assert count == 250
