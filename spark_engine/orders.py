"""Orders into customers on Spark: the RFM features of ``segmentation.rfm``, as a Spark aggregation.

The same rules as on one machine (the as-of date, returns, customers with returns only left
out), computed by ``groupBy`` over every order on the executors; only a few example rows ever
reach the driver, for the message that names bad orders. The result is a DataFrame of customers
that :func:`scoring.spark.assign_segments` scores and ``segment-train --engine spark`` trains on
like any other, and the summary a bundle records (``TrainingData.transactions``).

Needs the ``[spark]`` extra.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Final

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F  # noqa: N812 - the name every Spark user knows

from segmentation.metadata import TransactionsSummary
from segmentation.rfm import AMOUNT, NOT_A_DATE, ORDER_COLUMNS, ORDER_DATE, AsOfRule
from segmentation.schema import ID_COLUMN
from segmentation.validation import MISSING, NOT_A_NUMBER
from spark_engine.session import SparkSourceError

EXAMPLES: Final = 5
_DAY: Final = "_day"
_AMOUNT: Final = "_amount"


class OrdersSparkError(SparkSourceError):
    """Some orders cannot be read: the message names the column and a few customers."""


@dataclass(frozen=True)
class OrderCustomers:
    customers: DataFrame  # one row per customer with an order: customer_id and the features
    summary: TransactionsSummary  # the as-of date and its rule, orders, returns, customers

    @property
    def left_out(self) -> int:
        """Customers with returns only, who have no order to be placed by."""
        return self.summary.customers_without_orders


def order_customers(
    df: DataFrame, columns: Mapping[str, str] | None = None, as_of: date | None = None
) -> OrderCustomers:
    """The customers of ``df``'s orders, with their RFM features, and how they were made."""
    orders = _named(df, dict(columns or {}))
    text_id = F.trim(F.col(ID_COLUMN).cast("string"))
    checked = orders.select(
        text_id.alias(ID_COLUMN),
        F.col(ORDER_DATE),
        F.col(AMOUNT),
        _as_day(orders, ORDER_DATE).alias(_DAY),
        F.col(AMOUNT).try_cast("double").alias(_AMOUNT),
    ).persist()
    try:
        problems: list[tuple[str, str, Column]] = [
            (ID_COLUMN, MISSING, F.col(ID_COLUMN).isNull() | (F.col(ID_COLUMN) == "")),
            (ORDER_DATE, MISSING, F.col(ORDER_DATE).isNull()),
            (ORDER_DATE, NOT_A_DATE, F.col(ORDER_DATE).isNotNull() & F.col(_DAY).isNull()),
            (AMOUNT, MISSING, F.col(AMOUNT).isNull()),
            (AMOUNT, NOT_A_NUMBER, F.col(AMOUNT).isNotNull() & F.col(_AMOUNT).isNull()),
        ]
        if as_of is not None:
            problems.append(
                (ORDER_DATE, f"after the as-of date {as_of.isoformat()}", F.col(_DAY) > as_of)
            )
        # One pass counts every problem and the totals; examples are fetched only on failure.
        totals = checked.agg(
            F.max(_DAY),
            F.count(F.when(F.col(_AMOUNT) >= 0, 1)),
            F.count(F.when(F.col(_AMOUNT) < 0, 1)),
            *(F.count(F.when(bad, 1)) for _, _, bad in problems),
        ).first()
        assert totals is not None
        for (column, problem, bad), count in zip(problems, totals[3:], strict=True):
            if count:
                _refuse(checked, bad, column, problem, count)
        if totals[0] is None:
            raise OrdersSparkError("no orders (an empty table or path)")
        rule: AsOfRule = "given" if as_of is not None else "day_after_last_order"
        # Derived from the last order, the as-of date leaves no order after it.
        as_of = as_of or totals[0] + timedelta(days=1)
        customers, with_orders, without = _features(checked, as_of)
        summary = TransactionsSummary(
            as_of=as_of,
            as_of_rule=rule,
            orders=int(totals[1]),
            returns=int(totals[2]),
            customers_with_orders=with_orders,
            customers_without_orders=without,
        )
        return OrderCustomers(customers, summary)
    finally:
        checked.unpersist()


def _named(df: DataFrame, columns: dict[str, str]) -> DataFrame:
    unknown = [source for source in columns if source not in df.columns]
    if unknown:
        raise OrdersSparkError(
            f"--columns names {unknown[0]!r}, which is not a column; found: {', '.join(df.columns)}"
        )
    raw_of = {columns.get(raw, raw.strip()): raw for raw in df.columns}
    missing = [name for name in ORDER_COLUMNS if name not in raw_of]
    if missing:
        raise OrdersSparkError(
            f"missing column {missing[0]!r}: orders need {', '.join(ORDER_COLUMNS)}; found: "
            f"{', '.join(df.columns)} (map other names with --columns)"
        )
    return df.select(*(F.col(raw_of[name]).alias(name) for name in ORDER_COLUMNS))


def _as_day(df: DataFrame, name: str) -> Column:
    """A day from a date, a timestamp or ISO text; null where text is not a date."""
    kind = df.schema[name].dataType.typeName()
    if kind in ("date", "timestamp", "timestamp_ntz"):
        return F.to_date(F.col(name))
    return F.col(name).cast("string").try_cast("timestamp").cast("date")


def _refuse(checked: DataFrame, bad: Column, column: str, problem: str, count: int) -> None:
    rows = checked.where(bad).select(ID_COLUMN, column).limit(EXAMPLES).collect()
    examples = ", ".join(f"customer {row[0]!r}: {row[1]!r}" for row in rows)
    raise OrdersSparkError(f"column '{column}': {problem}, in {count:,} of the orders ({examples})")


def _features(checked: DataFrame, as_of: date) -> tuple[DataFrame, int, int]:
    """The customers with an order, how many there are, and how many have returns only."""
    is_order = F.col(_AMOUNT) >= 0
    totals = checked.groupBy(ID_COLUMN).agg(
        F.max(F.when(is_order, F.col(_DAY))).alias("last_order"),
        F.min(F.when(is_order, F.col(_DAY))).alias("first_order"),
        F.sum(F.when(is_order, 1).otherwise(0)).cast("double").alias("frequency"),
        F.greatest(F.sum(_AMOUNT), F.lit(0.0)).alias("monetary"),
    )
    day = F.lit(as_of)
    counted = totals.agg(
        F.count(F.when(F.col("frequency") > 0, 1)), F.count(F.when(F.col("frequency") == 0, 1))
    ).first()
    with_orders, left_out = (int(counted[0]), int(counted[1])) if counted else (0, 0)
    customers = totals.where(F.col("frequency") > 0).select(
        ID_COLUMN,
        F.datediff(day, "last_order").cast("double").alias("recency_days"),
        "frequency",
        "monetary",
        (F.col("monetary") / F.col("frequency")).alias("average_order_value"),
        F.datediff(day, "first_order").cast("double").alias("tenure_days"),
    )
    return customers, with_orders, left_out
