"""Database tables for the tests of reading customers from a database (``segmentation.sources``)
and of scoring one back into it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import sqlalchemy

from training.sample_data import generate_customers


def create_tables(url: str, rows_by_table: dict[tuple[str | None, str], int]) -> None:
    """Customer tables of ``rows`` rows each, keyed by (schema, name); the row count tells the
    tables apart."""
    engine = sqlalchemy.create_engine(url)
    try:
        with engine.begin() as connection:
            for (schema, name), rows in rows_by_table.items():
                frame = generate_customers(rows, seed=rows).frame
                frame.to_sql(name, connection, schema=schema, index=False)
    finally:
        engine.dispose()


def sqlite_with_declared_types(path: Path, rows: int = 60) -> tuple[str, pd.DataFrame]:
    """A SQLite table whose declared types its values do not follow: a DATE column of US dates
    that no feature reads, and a ``CREATE TABLE ... AS SELECT`` copy, where the DATE becomes
    NUM; the feature columns are INTEGER and NUMERIC."""
    url = f"sqlite:///{path}"
    frame = generate_customers(rows, seed=7).frame
    engine = sqlalchemy.create_engine(url)
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql(
                'CREATE TABLE customers ("CustomerID" INTEGER, "Gender" TEXT, "Age" INTEGER, '
                '"Annual Income (k$)" NUMERIC, "Spending Score (1-100)" NUMERIC(5, 1), '
                "signup DATE, active BOOLEAN)"
            )
            connection.exec_driver_sql(
                "INSERT INTO customers VALUES (?, ?, ?, ?, ?, '01/03/2025', 'yes')",
                [tuple(row) for row in frame.itertuples(index=False)],
            )
            connection.exec_driver_sql("CREATE TABLE copied AS SELECT * FROM customers")
    finally:
        engine.dispose()
    return url, frame


def income_not_a_number(url: str, customer_id: int) -> None:
    """Text in the NUMERIC income column of ``sqlite_with_declared_types``'s customers, as a
    SQLite column of any declared type can hold."""
    engine = sqlalchemy.create_engine(url)
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql(
                'UPDATE customers SET "Annual Income (k$)" = \'abc\' WHERE "CustomerID" = ?',
                (customer_id,),
            )
    finally:
        engine.dispose()


def create_schema(url: str, schema: str) -> None:
    engine = sqlalchemy.create_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(sqlalchemy.schema.CreateSchema(schema))
    finally:
        engine.dispose()
