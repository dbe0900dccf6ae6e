"""RFM features from orders: the as-of rule, returns, and every bad order named by its place."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from segmentation.rfm import OrdersError, customer_features


def orders(rows: list[tuple[object, object, object]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["customer_id", "order_date", "amount"])


def test_each_customer_gets_recency_frequency_monetary_value_and_tenure() -> None:
    rfm = customer_features(
        orders(
            [
                ("A", "2026-11-01", "10"),
                ("A", "2026-11-20", "30.5"),
                ("B", "2026-06-01", "100"),
                ("A", "2026-11-10", "20"),
            ]
        ),
        as_of=date(2026, 12, 1),
        where="orders.csv",
    )
    frame = rfm.frame.set_index("customer_id")
    assert frame.loc["A"].to_dict() == {
        "recency_days": 11.0,
        "frequency": 3.0,
        "monetary": 60.5,
        "average_order_value": pytest.approx(60.5 / 3),
        "tenure_days": 30.0,
    }
    assert frame.loc["B", "recency_days"] == frame.loc["B", "tenure_days"] == 183.0
    assert rfm.summary.as_of == date(2026, 12, 1)
    assert rfm.summary.as_of_rule == "given"
    assert (rfm.summary.orders, rfm.summary.customers_with_orders) == (4, 2)


def test_the_default_as_of_is_the_day_after_the_last_date() -> None:
    rfm = customer_features(
        orders([("A", "2026-11-29", 5), ("B", "2026-11-30T18:30:00", 7)]), None, "orders.csv"
    )
    assert rfm.summary.as_of == date(2026, 12, 1)
    assert rfm.summary.as_of_rule == "day_after_last_order"
    assert rfm.frame.set_index("customer_id")["recency_days"].to_dict() == {"A": 2.0, "B": 1.0}


def test_returns_lower_monetary_value_and_are_not_orders() -> None:
    rfm = customer_features(
        orders(
            [
                ("A", "2026-11-01", 100),
                ("A", "2026-11-25", -40),  # a return: not the last order
                ("B", "2026-11-02", 10),
                ("B", "2026-11-03", -25),  # more returned than bought here: never below 0
                ("C", "2026-11-04", -5),  # returns only: no order to place C by
            ]
        ),
        date(2026, 12, 1),
        "orders.csv",
    )
    frame = rfm.frame.set_index("customer_id")
    assert frame.loc["A", ["recency_days", "frequency", "monetary"]].tolist() == [30, 1, 60]
    assert frame.loc["B", "monetary"] == 0
    assert "C" not in frame.index
    summary = rfm.summary
    assert (summary.orders, summary.returns, summary.customers_with_orders) == (2, 3, 2)
    assert summary.customers_without_orders == 1


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (
            [("A", "2026-11-01", 5), ("B", "01/11/2026", 5)],
            "column 'order_date', row 2 (line 3): value '01/11/2026' is not a date (YYYY-MM-DD)",
        ),
        (
            [("A", "2026-11-01", 5), ("B", "2026-11-02", None)],
            "column 'amount', row 2 (line 3): missing value",
        ),
        (
            [("A", "2026-11-01", "12,50")],
            "column 'amount', row 1 (line 2): value '12,50' is not a number",
        ),
        ([(" ", "2026-11-01", 5)], "column 'customer_id', row 1 (line 2): missing value"),
        (
            [("A", "2026-11-01", 5), ("A", "2026-12-03", 5)],
            "value '2026-12-03' is after the as-of date 2026-12-01",
        ),
    ],
)
def test_bad_orders_are_refused_naming_row_and_column(
    rows: list[tuple[object, object, object]], message: str
) -> None:
    with pytest.raises(OrdersError, match=r"^orders\.csv: ") as refused:
        customer_features(orders(rows), date(2026, 12, 1), "orders.csv")
    assert message in str(refused.value)


def test_every_kind_of_problem_is_counted() -> None:
    rows = [("A", "bad", 5), ("B", "2026-11-01", "x"), ("C", "also bad", 1)]
    with pytest.raises(OrdersError) as refused:
        customer_features(orders(rows), date(2026, 12, 1), "orders.csv")
    text = str(refused.value)
    assert "(3 problems in 3 orders)" in text
    assert "order_date: 2 x not a date (YYYY-MM-DD) (row 1: 'bad', row 3: 'also bad')" in text


def test_orders_of_a_table_are_named_by_their_customer() -> None:
    rows = [("A", "2026-11-01", 5), ("B", "2026-11-01", "x"), (None, "2026-11-02", 1)]
    with pytest.raises(OrdersError) as refused:
        customer_features(orders(rows), date(2026, 12, 1), "orders", rows="customer")
    text = str(refused.value)
    assert text.startswith("orders: column 'amount', customer 'B': value 'x' is not a number")
    assert "customer_id: 1 x missing value (an order with no customer_id)" in text


def test_a_missing_value_is_listed_by_its_place_not_as_nan() -> None:
    rows = [("A", "2026-11-01", None), ("B", "2026-11-01", 5), ("C", "2026-11-02", None)]
    with pytest.raises(OrdersError) as refused:
        customer_features(orders(rows), date(2026, 12, 1), "orders.csv")
    assert str(refused.value).endswith("amount: 2 x missing value (row 1, row 3)")


def test_no_orders_at_all_is_an_error() -> None:
    with pytest.raises(OrdersError, match="no orders"):
        customer_features(orders([]), None, "orders.csv")


def test_timestamps_with_an_offset_count_on_their_utc_day() -> None:
    rows = [("A", "2026-11-01T10:00:00+02:00", 5), ("B", "2026-11-02T23:30:00-05:00", 5)]
    rfm = customer_features(orders(rows), date(2026, 12, 1), "orders.csv")
    # B's order is on 3 November in UTC: 28 days before the as-of date, not 29.
    assert rfm.frame.set_index("customer_id")["recency_days"].to_dict() == {"A": 30.0, "B": 28.0}
