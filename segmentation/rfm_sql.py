"""RFM totals computed by PostgreSQL: one ``GROUP BY`` per customer, not every order pulled over.

The orders of a table or query are checked and aggregated in the database. Only one row per
customer comes back (last and first order day, number of orders, net amount), and
``segmentation.rfm.from_totals`` turns those rows into the same features as the pandas path,
under the same rules (the as-of date, returns, customers with returns only). A bad order is an
error naming the column and a few of the customers whose orders are at fault: a database table
has no row numbers to give.

Other databases (SQLite) read the orders through the usual reader and aggregate in pandas.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, Final

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.exc import NoSuchTableError, SQLAlchemyError

from segmentation.rfm import (
    AMOUNT,
    NOT_A_DATE,
    ORDER_COLUMNS,
    ORDER_DATE,
    AsOfRule,
    CustomerRfm,
    OrdersError,
    from_totals,
)
from segmentation.schema import ID_COLUMN
from segmentation.sources import DataSource, SourceError, TableName, first_line
from segmentation.validation import MISSING, NOT_A_NUMBER

EXAMPLES: Final = 5
# Text that PostgreSQL casts to a date or a number without an error.
_ISO_DAY: Final = r"^\s*\d{4}-\d{2}-\d{2}([ T].*)?$"
_NUMBER: Final = r"^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$"


def aggregates_in_database(source: DataSource) -> bool:
    return source.kind == "sql" and sa.engine.make_url(source.location).get_backend_name() == (
        "postgresql"
    )


def customer_totals(source: DataSource, as_of: date | None) -> CustomerRfm:
    """The customers of ``source``'s orders, aggregated by the database."""
    where = source.describe()
    engine = sa.create_engine(source.location)
    try:
        with engine.connect() as connection:
            orders = _orders(connection, source)
            day, amount = _typed(orders)
            _refuse_bad_orders(connection, orders, where)
            last_day = connection.execute(sa.select(sa.func.max(day))).scalar()
            if last_day is None:
                raise OrdersError(f"{where}: no orders (an empty table or result)")
            rule: AsOfRule = "given" if as_of is not None else "day_after_last_order"
            as_of = as_of or _day(last_day) + timedelta(days=1)
            _refuse_late_orders(connection, orders, day, as_of, where)
            totals, counts = _totals(connection, orders, day, amount)
    except SQLAlchemyError as exc:
        raise OrdersError(f"{where}: database error: {first_line(exc)}") from None
    finally:
        engine.dispose()
    return from_totals(totals, as_of, rule, orders=counts[0], returns=counts[1])


def _orders(connection: sa.Connection, source: DataSource) -> sa.Subquery:
    """The orders as a subquery with our three column names."""
    if bool(source.table) == bool(source.query):
        raise OrdersError(f"{source.describe()}: give exactly one of --table or --query")
    if source.table:
        table = _reflected(connection, source)
        names = list(table.columns.keys())
        selectable: Any = table
    else:
        query = source.query or ""
        names = list(connection.execute(sa.text(f"SELECT * FROM ({query}) AS q LIMIT 0")).keys())
        selectable = sa.text(query).columns(*(sa.column(n) for n in names)).subquery("q")
    ours = {raw: source.columns.get(raw, raw) for raw in names}
    missing = [c for c in ORDER_COLUMNS if c not in ours.values()]
    if missing:
        raise OrdersError(
            f"{source.describe()}: missing required column '{missing[0]}'; found columns: "
            f"{', '.join(names)} (map other names with --columns)"
        )
    raw_of = {mine: raw for raw, mine in ours.items()}
    return sa.select(*(selectable.c[raw_of[name]].label(name) for name in ORDER_COLUMNS)).subquery(
        "orders"
    )


def _reflected(connection: sa.Connection, source: DataSource) -> sa.Table:
    """``--table`` with its declared types (the totals are computed on them), read as
    ``segmentation.sources.TableName`` reads a name: ``crm.orders`` is in schema ``crm``."""
    where = source.describe()
    try:
        name = TableName.parse(source.table or "")
        name.check_schema(connection, where)
        return sa.Table(name.name, sa.MetaData(), schema=name.schema, autoload_with=connection)
    except ValueError as exc:
        raise OrdersError(f"{where}: --table {exc}") from None
    except SourceError as exc:
        raise OrdersError(str(exc)) from None
    except NoSuchTableError:
        raise OrdersError(f"{where}: no such table {name.describe()}") from None


def _typed(orders: sa.Subquery) -> tuple[sa.ColumnElement[Any], sa.ColumnElement[Any]]:
    day = orders.c[ORDER_DATE]
    amount = orders.c[AMOUNT]
    as_day = day if isinstance(day.type, sa.Date) else sa.cast(day, sa.Date)
    as_number = amount if isinstance(amount.type, sa.Numeric) else sa.cast(amount, sa.Numeric)
    return as_day, as_number


def _refuse_bad_orders(connection: sa.Connection, orders: sa.Subquery, where: str) -> None:
    """Missing values, and text that is not a date or a number, named with example customers."""
    customer = orders.c[ID_COLUMN]
    checks: list[tuple[str, str, sa.ColumnElement[bool]]] = [
        (ID_COLUMN, MISSING, customer.is_(None) | (sa.func.trim(sa.cast(customer, sa.Text)) == "")),
        (ORDER_DATE, MISSING, orders.c[ORDER_DATE].is_(None)),
        (AMOUNT, MISSING, orders.c[AMOUNT].is_(None)),
    ]
    if not isinstance(orders.c[ORDER_DATE].type, sa.Date | sa.DateTime):
        text = sa.cast(orders.c[ORDER_DATE], sa.Text)
        checks.append((ORDER_DATE, NOT_A_DATE, text.regexp_match(_ISO_DAY) == sa.false()))
    if not isinstance(orders.c[AMOUNT].type, sa.Numeric | sa.Integer | sa.Float):
        text = sa.cast(orders.c[AMOUNT], sa.Text)
        checks.append((AMOUNT, NOT_A_NUMBER, text.regexp_match(_NUMBER) == sa.false()))
    for column, problem, bad in checks:
        _refuse(connection, orders, bad, column, problem, where)


def _refuse_late_orders(
    connection: sa.Connection,
    orders: sa.Subquery,
    day: sa.ColumnElement[Any],
    as_of: date,
    where: str,
) -> None:
    problem = f"after the as-of date {as_of.isoformat()}"
    _refuse(connection, orders, day > as_of, ORDER_DATE, problem, where)


def _refuse(
    connection: sa.Connection,
    orders: sa.Subquery,
    bad: sa.ColumnElement[bool],
    column: str,
    problem: str,
    where: str,
) -> None:
    count = connection.execute(sa.select(sa.func.count()).where(bad)).scalar() or 0
    if not count:
        return
    rows = connection.execute(
        sa.select(orders.c[ID_COLUMN], orders.c[column]).where(bad).limit(EXAMPLES)
    ).all()
    examples = ", ".join(f"customer {row[0]!r}: {row[1]!r}" for row in rows)
    raise OrdersError(
        f"{where}: column '{column}': {problem}, in {count:,} of the orders ({examples})"
    )


def _totals(
    connection: sa.Connection,
    orders: sa.Subquery,
    day: sa.ColumnElement[Any],
    amount: sa.ColumnElement[Any],
) -> tuple[pd.DataFrame, tuple[int, int]]:
    is_order = amount >= 0
    customer = sa.cast(sa.func.trim(sa.cast(orders.c[ID_COLUMN], sa.Text)), sa.Text)
    statement = sa.select(
        customer.label(ID_COLUMN),
        sa.func.max(sa.case((is_order, day))).label("last_order"),
        sa.func.min(sa.case((is_order, day))).label("first_order"),
        sa.func.sum(sa.case((is_order, 1), else_=0)).label("frequency"),
        sa.func.sum(amount).label("monetary"),
        sa.func.sum(sa.case((is_order, 0), else_=1)).label("returns"),
    ).group_by(customer)
    result = connection.execute(statement)
    totals = pd.DataFrame(result.all(), columns=list(result.keys()))
    for name in ("frequency", "monetary", "returns"):
        totals[name] = pd.to_numeric(totals[name]).astype("float64")
    orders_read = int(totals["frequency"].sum())
    returns_read = int(totals["returns"].sum())
    return totals.drop(columns="returns"), (orders_read, returns_read)


def _day(value: object) -> date:
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])
