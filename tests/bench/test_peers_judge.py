"""The peers benchmark judges issue 22's targets from the rows of one run."""

from __future__ import annotations

from bench.peers_bench import Result, judge


def rows(csv_ours: float, p99: float) -> list[Result]:
    return [
        Result("mall", "one customer", "ceiling", 1, 10_000, 1.0, 2.0),
        Result("mall", "one customer", "service", 1, 2_100, 5.0, 6.0),
        Result("mall", "JSON, 10,000 customers", "service", 10_000, 300_000, 30.0, 40.0),
        Result("mall", "JSON, 10,000 customers", "mlflow", 10_000, 90_000, 100.0, 120.0),
        Result("mall", "CSV, 10,000 customers", "service", 10_000, csv_ours, 20.0, p99),
        Result("mall", "CSV, 10,000 customers", "mlflow", 10_000, 100_000, 90.0, 100.0),
    ]


def test_each_target_is_met_or_missed_with_its_figures() -> None:
    verdicts = judge(rows(csv_ours=190_000, p99=70.0))
    assert verdicts == [
        "met     mall, JSON, 10,000 customers (service) >= 3x MLflow: 3.33x (300,000 against "
        "90,000/s; p50 30.0 against 100.0 ms, p99 40.0 against 120.0 ms)",
        "MISSED  mall, CSV, 10,000 customers (service) >= 2x MLflow: 1.90x (190,000 against "
        "100,000/s; p50 20.0 against 90.0 ms, p99 70.0 against 100.0 ms)",
        "met     mall, one customer >= 20% of the bare ASGI ceiling: 21.0% "
        "(2,100 against 10,000/s)",
        "MISSED  every row of ours: p99 <= 3x p50: "
        "mall CSV, 10,000 customers service p50 20.0 p99 70.0 ms",
    ]


def test_a_run_within_every_bound_meets_them_all() -> None:
    verdicts = judge(rows(csv_ours=200_000, p99=60.0))
    assert all(v.startswith("met") for v in verdicts), verdicts
    assert verdicts[-1].endswith("all 3 rows")
