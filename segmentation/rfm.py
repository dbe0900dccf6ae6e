"""RFM features from a table of orders, the same way for training and for scoring.

One row per order (``customer_id``, ``order_date``, ``amount``) becomes one row per customer:

- ``recency_days``: days from the customer's last order to the as-of date;
- ``frequency``: the number of orders;
- ``monetary``: the total amount, net of returns (never below 0);
- ``average_order_value``: ``monetary / frequency``;
- ``tenure_days``: days from the first order to the as-of date.

The as-of date is given (``--as-of``), or else the day after the last date in the data; the
bundle records which (``metadata.transactions``), and scoring uses the same rule. An amount
below 0 is a return: it lowers the customer's monetary value and is not an order (it counts in
neither frequency nor recency nor tenure). A customer with returns only has no order and cannot
be placed; such customers are left out and counted, never silently. An unparseable date, a
missing amount or customer, and an order dated after the as-of date are errors that name the
row and the column.

Needs pandas only, like scoring.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING, Final, Literal

import numpy as np
import pandas as pd

from segmentation.excerpts import counted, id_text, quoted
from segmentation.metadata import TransactionsSummary
from segmentation.schema import ID_COLUMN
from segmentation.validation import MISSING, NOT_A_NUMBER, as_text

if TYPE_CHECKING:
    from segmentation.sources import DataSource, SourceReader

ORDER_DATE: Final = "order_date"
AMOUNT: Final = "amount"
ORDER_COLUMNS: Final = (ID_COLUMN, ORDER_DATE, AMOUNT)
RFM_FEATURES: Final = (
    "recency_days",
    "frequency",
    "monetary",
    "average_order_value",
    "tenure_days",
)
RFM_PRESET: Final = "rfm"
TOTAL_COLUMNS: Final = (ID_COLUMN, "last_order", "first_order", "frequency", "monetary")
AsOfRule = Literal["day_after_last_order", "given"]
NOT_A_DATE: Final = "not a date (YYYY-MM-DD)"
MAX_LISTED: Final = 5


class OrdersError(Exception):
    """The orders cannot be turned into customers; the first line names the row and column."""


@dataclass(frozen=True)
class OrdersRule:
    """How scoring reads orders: up to ``as_of`` (None: the day after the last order), with a
    file's columns renamed by ``columns`` (a database source carries its own mapping)."""

    as_of: date | None = None
    columns: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CustomerRfm:
    """One row per customer who has an order: ``customer_id`` and the RFM features."""

    frame: pd.DataFrame
    summary: TransactionsSummary


def customer_features(
    orders: pd.DataFrame, as_of: date | None, where: str, *, rows: RowNaming = "line"
) -> CustomerRfm:
    """Check every order and aggregate them per customer (``orders`` has ``ORDER_COLUMNS``);
    a bad order is named as ``rows`` says."""
    if orders.empty:
        raise OrdersError(f"{where}: no orders (only a header, or an empty result)")
    customers = as_text(orders[ID_COLUMN]).str.strip()
    dates = _dates(orders[ORDER_DATE])
    amounts = pd.to_numeric(orders[AMOUNT], errors="coerce")
    problems = _Problems(where, rows, orders[ID_COLUMN])
    blank = orders[ID_COLUMN].isna().to_numpy() | (customers == "").to_numpy()
    problems.add(ID_COLUMN, MISSING, blank, orders[ID_COLUMN])
    problems.add(ORDER_DATE, MISSING, orders[ORDER_DATE].isna().to_numpy(), orders[ORDER_DATE])
    problems.add(
        ORDER_DATE,
        NOT_A_DATE,
        (dates.isna() & orders[ORDER_DATE].notna()).to_numpy(),
        orders[ORDER_DATE],
    )
    problems.add(AMOUNT, MISSING, orders[AMOUNT].isna().to_numpy(), orders[AMOUNT])
    unparsable = (amounts.isna() | ~np.isfinite(amounts.fillna(0))) & orders[AMOUNT].notna()
    problems.add(AMOUNT, NOT_A_NUMBER, unparsable.to_numpy(), orders[AMOUNT])
    rule: AsOfRule = "given" if as_of is not None else "day_after_last_order"
    if as_of is None:
        last = dates.max()
        as_of = (last.date() if not pd.isna(last) else date.today()) + timedelta(days=1)
    late = (dates > pd.Timestamp(as_of)).to_numpy()
    problems.add(ORDER_DATE, f"after the as-of date {as_of.isoformat()}", late, orders[ORDER_DATE])
    problems.raise_if_any(len(orders))
    return from_totals(
        _totals(customers, dates, amounts.to_numpy(dtype="float64")),
        as_of,
        rule,
        orders=int((amounts >= 0).sum()),
        returns=int((amounts < 0).sum()),
    )


def from_totals(
    totals: pd.DataFrame, as_of: date, rule: AsOfRule, *, orders: int, returns: int
) -> CustomerRfm:
    """The features from per-customer totals (``TOTAL_COLUMNS``: computed by pandas here, or by
    the database's GROUP BY in ``segmentation.rfm_sql``)."""
    reference = pd.Timestamp(as_of)
    frequency = totals["frequency"].astype("float64")
    monetary = totals["monetary"].astype("float64").clip(lower=0.0)
    last = pd.to_datetime(totals["last_order"])
    first = pd.to_datetime(totals["first_order"])
    frame = pd.DataFrame(
        {
            ID_COLUMN: totals[ID_COLUMN].to_numpy(),
            "recency_days": (reference - last).dt.days.to_numpy(dtype="float64"),
            "frequency": frequency.to_numpy(),
            "monetary": monetary.to_numpy(),
            "average_order_value": (monetary / frequency.where(frequency > 0)).to_numpy(),
            "tenure_days": (reference - first).dt.days.to_numpy(dtype="float64"),
        }
    )
    ordered = (frequency > 0).to_numpy()
    summary = TransactionsSummary(
        as_of=as_of,
        as_of_rule=rule,
        orders=orders,
        returns=returns,
        customers_with_orders=int(ordered.sum()),
        customers_without_orders=int((~ordered).sum()),
    )
    return CustomerRfm(frame=frame[ordered].reset_index(drop=True), summary=summary)


def _dates(column: pd.Series) -> pd.Series:
    """Days: a database's dates and timestamps as they are, text parsed as ISO 8601."""
    if pd.api.types.is_datetime64_any_dtype(column):
        parsed = column.dt.tz_convert(None) if column.dt.tz else column
    elif column.map(lambda v: isinstance(v, date)).all():
        parsed = pd.to_datetime(column, utc=True).dt.tz_convert(None)  # a driver's date objects
    else:
        # Timestamps with an offset count on their UTC day; without one, as written.
        text = as_text(column).str.strip()
        parsed = pd.to_datetime(text, format="ISO8601", errors="coerce", utc=True)
        parsed = parsed.dt.tz_convert(None)
    days: pd.Series = parsed.dt.normalize()
    return days


def _totals(customers: pd.Series, dates: pd.Series, amounts: np.ndarray) -> pd.DataFrame:
    """Per customer: last and first order day, number of orders, net amount."""
    is_order = amounts >= 0
    table = pd.DataFrame(
        {
            ID_COLUMN: customers.to_numpy(),
            "order_day": dates.where(is_order).to_numpy(),
            "order": is_order.astype(np.int64),
            "amount": amounts,
        }
    )
    grouped = table.groupby(ID_COLUMN, sort=False).agg(
        last_order=("order_day", "max"),
        first_order=("order_day", "min"),
        frequency=("order", "sum"),
        monetary=("amount", "sum"),
    )
    return grouped.reset_index()


# How a bad order is named: by its CSV line, by its position in a file without lines, or by
# its customer in a database table, whose rows come in no fixed order.
RowNaming = Literal["line", "row", "customer"]


@dataclass
class _Problems:
    where: str
    rows: RowNaming
    customers: pd.Series
    found: list[tuple[str, str, int, list[tuple[int, str]]]] | None = None

    def add(self, column: str, problem: str, mask: np.ndarray, values: pd.Series) -> None:
        count = int(mask.sum())
        if not count:
            return
        positions = np.flatnonzero(mask)[:MAX_LISTED]
        examples = [(int(p) + 1, str(values.iloc[int(p)])) for p in positions]
        self.found = [*(self.found or []), (column, problem, count, examples)]

    def place(self, row: int) -> str:
        if self.rows == "customer":
            customer = self.customers.iloc[row - 1]
            if pd.isna(customer) or not str(customer).strip():
                return "an order with no customer_id"
            return f"customer {quoted(id_text(customer))}"
        return f"row {row} (line {row + 1})" if self.rows == "line" else f"row {row}"

    def example(self, row: int) -> str:
        return self.place(row) if self.rows == "customer" else f"row {row}"

    def raise_if_any(self, rows: int) -> None:
        if not self.found:
            return
        column, problem, _, examples = min(self.found, key=lambda f: f[3][0][0])
        row, value = examples[0]
        shown = MISSING if problem == MISSING else f"value {value!r} is {problem}"
        total = sum(f[2] for f in self.found)
        lines = [
            f"{self.where}: column '{column}', {self.place(row)}: {shown} "
            f"({counted(total, 'problem')} in {counted(rows, 'order')})"
        ]
        for name, kind, count, listed in self.found:
            # A missing value has nothing to show ('nan', 'None'): its place is the example.
            rows_text = ", ".join(
                self.example(r) if kind == MISSING else f"{self.example(r)}: {v!r}"
                for r, v in listed
            )
            lines.append(f"  {name}: {count} x {kind} ({rows_text})")
        raise OrdersError("\n".join(lines))


@dataclass(frozen=True)
class OrdersRead:
    """Customers from a source of orders; the reader names the source."""

    rfm: CustomerRfm
    reader: SourceReader
    sha256: str  # of the file; of the orders read, or of the per-customer totals (PostgreSQL)


def read_order_customers(
    source: DataSource, as_of: date | None, on_chunk: Callable[[int], None] | None = None
) -> OrdersRead:
    """Every order of a file or database ``source`` (columns renamed by its mapping), as
    customers. PostgreSQL aggregates them itself (``segmentation.rfm_sql``); files and other
    databases are read in chunks and aggregated here."""
    # Imported here: the database readers need SQLAlchemy, which file scoring does without.
    from segmentation.sources import SourceError, SourceReader

    reader = SourceReader(source, ORDER_COLUMNS, {}, text_columns=[ID_COLUMN, ORDER_DATE])
    if source.kind == "sql":
        from segmentation.rfm_sql import aggregates_in_database, customer_totals

        if aggregates_in_database(source):
            rfm = customer_totals(source, as_of)
            ordered = rfm.frame.sort_values(ID_COLUMN, kind="stable")
            hashed = pd.util.hash_pandas_object(ordered, index=False).to_numpy().tobytes()
            return OrdersRead(rfm, reader, hashlib.sha256(hashed).hexdigest())
    try:
        orders = reader.read_all(on_chunk)
    except SourceError as exc:
        raise OrdersError(str(exc)) from None
    naming: RowNaming = (
        "line" if source.kind == "csv" else "customer" if source.kind == "sql" else "row"
    )
    rfm = customer_features(orders, as_of, reader.name, rows=naming)
    return OrdersRead(rfm, reader, reader.sha256())


def parse_as_of(text: str) -> date:
    """``--as-of``: a day written YYYY-MM-DD."""
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{text!r} is not a date of the form YYYY-MM-DD") from None


def rfm_feature_names(names: Sequence[str]) -> bool:
    """Whether a model's features are the RFM features (its segments get RFM names)."""
    return set(RFM_FEATURES) <= set(names)
