"""docs/crm.md's database roles on a real PostgreSQL: the reader trains but cannot write back,
the writer writes back, and the table it creates is the one the page describes."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
import sqlalchemy

from segmentation.metadata import current_version
from tests import shell
from tests.conftest import REPO_ROOT
from tests.postgres import SUPERUSER, PostgresServer
from training.sample_data import generate_customers

PAGE = REPO_ROOT / "docs" / "crm.md"
CUSTOMERS = 300
EXAMPLE_URL = re.compile(r"^export CRM_(?:WRITER_)?URL=.*$", re.MULTILINE)


def page_block(language: str, first_word: str) -> str:
    found = [
        block
        for block in re.findall(rf"```{language}\n(.*?)```", PAGE.read_text(), re.DOTALL)
        if re.search(rf"^{first_word}\b", block, re.M)
    ]
    assert len(found) == 1, (language, first_word)
    return found[0]


def run(block: str, folder: Path, **env: str) -> None:
    shell.paste(EXAMPLE_URL.sub("", block), folder, **env)


def execute(url: str, statements: str) -> None:
    engine = sqlalchemy.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            for statement in statements.split(";"):
                if statement.strip():
                    connection.exec_driver_sql(statement)
    finally:
        engine.dispose()


def test_the_documented_roles_read_and_write_what_the_page_says(
    postgres: PostgresServer, tmp_path: Path
) -> None:
    database = postgres.create_database()
    owner = postgres.url(database)
    # Roles belong to the whole server: unique names, so other tests' roles never collide.
    suffix = uuid.uuid4().hex[:8]
    reader, writer = f"crm_reader_{suffix}", f"crm_writer_{suffix}"
    grants = (
        page_block("sql", "CREATE ROLE")
        .replace("crm_reader", reader)
        .replace("crm_writer", writer)
        .replace("DATABASE crm ", f'DATABASE "{database}" ')
    )
    customers = generate_customers(CUSTOMERS, seed=8).frame.rename(
        columns={
            "CustomerID": "id",
            "Age": "age_years",
            "Annual Income (k$)": "income_k",
            "Spending Score (1-100)": "score",
        }
    )
    engine = sqlalchemy.create_engine(owner)
    with engine.begin() as connection:
        customers.to_sql("customers", connection, index=False)
    engine.dispose()
    execute(owner, grants)
    as_reader = owner.replace(f"//{SUPERUSER}@", f"//{reader}@")
    as_writer = as_reader.replace(reader, writer)

    run(page_block("sh", "segment-train"), tmp_path, CRM_URL=as_reader)
    version = current_version(tmp_path / "models")
    score_back = page_block("sh", "segment-score")

    with pytest.raises(AssertionError, match="permission denied"):
        run(score_back, tmp_path, CRM_WRITER_URL=as_reader)
    inspector_engine = sqlalchemy.create_engine(owner)
    assert not sqlalchemy.inspect(inspector_engine).has_table("customer_segments")

    run(score_back, tmp_path, CRM_WRITER_URL=as_writer)
    with inspector_engine.connect() as connection:
        [(kind, default)] = connection.exec_driver_sql(
            "SELECT data_type, column_default FROM information_schema.columns "
            "WHERE table_name = 'customer_segments' AND column_name = 'customer_id'"
        ).all()
        sequences = connection.exec_driver_sql(
            "SELECT count(*) FROM information_schema.sequences"
        ).scalar()
    inspector_engine.dispose()
    assert (kind, default, sequences) == ("bigint", None, 0)  # BIGINT, as the page says

    reading = sqlalchemy.create_engine(as_reader)
    try:
        with reading.connect() as connection:
            written = connection.exec_driver_sql(
                "SELECT count(*), min(model_version) FROM customer_segments"
            ).one()
            assert tuple(written) == (CUSTOMERS, version)
        denied = pytest.raises(sqlalchemy.exc.ProgrammingError, match="permission denied")
        with denied, reading.begin() as connection:
            connection.exec_driver_sql("UPDATE customer_segments SET segment_id = 0")
    finally:
        reading.dispose()
