"""A seeded "wide" retailer customer table: 12 numbers and 3 categories, five planted segments.

The mall study's three numbers are the smallest model the service will see; a retailer's own CRM
export is wider. This table is what the issue's wide targets are measured on (issue 22 item 7):
``customer_id``, twelve numeric columns with realistic ranges (a few skewed counts and amounts,
read through ``log1p``) and three categorical ones (channel with 3 levels, region with 6,
loyalty tier with 4). Customers are drawn from five planted groups (``GROUPS``), so a model with
k = 5 finds segments that mean something; region is noise, as it often is.

The columns are described once, in ``NUMERIC`` and ``CATEGORICAL``: the schema TOML that
training reads is written from them (``write_schema``), and every value is clipped to the range
declared there, so any row of any size of table is valid for the bundle. Tables are drawn in
chunks of ``CHUNK_ROWS`` from seeds ``[seed, chunk]``: ten million rows go to CSV and Parquet
without holding them all in memory, and the same rows and seed always give the same bytes.

    python -m bench.wide_data --rows 20000 --output wide.csv [--schema wide.toml]
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from bench.servers import ROOT
from segmentation.schema import ID_COLUMN

DATA_DIR = ROOT / "bench" / ".data"
CHUNK_ROWS = 1_000_000
TRAINING_ROWS = 20_000
TRAINING_SEED = 7
BATCH_SEED = 2026  # the requests' customers: not the training rows
SCORING_SEED = 2027  # the offline table's customers
PLANTED_K = 5


@dataclass(frozen=True)
class Numeric:
    name: str
    description: str
    unit: str
    minimum: float
    maximum: float
    log1p: bool = False
    whole: bool = True  # counts, days, years: written as integers


@dataclass(frozen=True)
class Categorical:
    name: str
    description: str
    levels: tuple[str, ...]


NUMERIC = (
    Numeric("age", "Age in years", "years", 18, 100),
    Numeric("tenure_months", "Months since the first purchase", "months", 0, 480),
    Numeric("orders_12m", "Orders in the last 12 months", "orders", 0, 1000, log1p=True),
    Numeric("spend_12m", "Spend in the last 12 months", "EUR", 0, 1e6, log1p=True, whole=False),
    Numeric("average_basket", "Average order value", "EUR", 0, 20_000, True, whole=False),
    Numeric("days_since_last_order", "Days since the last order", "days", 0, 3650, log1p=True),
    Numeric("web_sessions_30d", "Web and app sessions, last 30 days", "sessions", 0, 5000, True),
    Numeric("email_open_rate", "Share of marketing e-mails opened", "", 0, 1, whole=False),
    Numeric("discount_share", "Share of spend on discounted items", "", 0, 1, whole=False),
    Numeric("return_rate", "Share of items returned", "", 0, 1, whole=False),
    Numeric("support_tickets_12m", "Support tickets, last 12 months", "tickets", 0, 500, True),
    Numeric("household_size", "People in the household", "people", 1, 12),
)
CHANNEL = Categorical("channel", "Where the customer buys", ("online", "store", "both"))
REGION = Categorical(
    "region", "Sales region", ("North", "South", "East", "West", "Central", "Overseas")
)
TIER = Categorical(
    "loyalty_tier", "Loyalty programme tier", ("Bronze", "Silver", "Gold", "Platinum")
)
CATEGORICAL = (CHANNEL, REGION, TIER)
FEATURES = tuple(c.name for c in (*NUMERIC, *CATEGORICAL))


@dataclass(frozen=True)
class Group:
    """One planted segment: its share and each column's typical value."""

    name: str
    weight: float
    age: tuple[float, float]  # mean, sd
    tenure_months: tuple[float, float]
    orders_12m: float  # mean of a skewed count
    average_basket: float  # median EUR
    days_since_last_order: float  # median
    web_sessions_30d: float
    email_open_rate: float  # mean share
    discount_share: float
    return_rate: float
    support_tickets_12m: float
    household_size: float
    channel: tuple[float, ...]  # shares of CHANNEL.levels
    loyalty_tier: tuple[float, ...]  # shares of TIER.levels


GROUPS = (
    Group(
        "young digital bargain hunters", 0.25, (27, 5), (18, 10), 10, 32, 20, 40,
        0.35, 0.55, 0.15, 1.0, 1.8, (0.85, 0.03, 0.12), (0.6, 0.35, 0.05, 0.0),
    ),
    Group(
        "affluent omnichannel loyalists", 0.15, (46, 8), (120, 30), 30, 130, 7, 25,
        0.60, 0.10, 0.05, 2.0, 3.0, (0.10, 0.10, 0.80), (0.0, 0.1, 0.5, 0.4),
    ),
    Group(
        "store-based families", 0.25, (40, 7), (72, 24), 18, 85, 14, 3,
        0.20, 0.25, 0.04, 0.5, 4.2, (0.05, 0.85, 0.10), (0.2, 0.5, 0.3, 0.0),
    ),
    Group(
        "lapsed customers", 0.20, (52, 12), (60, 30), 3, 50, 300, 0.5,
        0.05, 0.30, 0.10, 0.3, 2.2, (0.40, 0.45, 0.15), (0.9, 0.1, 0.0, 0.0),
    ),
    Group(
        "senior store regulars", 0.15, (71, 6), (150, 40), 40, 25, 5, 1,
        0.15, 0.20, 0.02, 0.5, 1.6, (0.05, 0.90, 0.05), (0.2, 0.6, 0.2, 0.0),
    ),
)  # fmt: skip
REGION_SHARES = (0.22, 0.20, 0.18, 0.18, 0.17, 0.05)  # the same in every group: noise


def fingerprint() -> str:
    """Names cached files: a change of the columns or the groups never reuses old data."""
    return hashlib.sha256(repr((NUMERIC, CATEGORICAL, GROUPS, REGION_SHARES)).encode()).hexdigest()[
        :8
    ]


# ---------------------------------------------------------------------------------------------
# drawing


def generate(rows: int, seed: int) -> pd.DataFrame:
    """``rows`` customers as one DataFrame (for request bodies and training files)."""
    return generate_planted(rows, seed)[0]


def generate_planted(rows: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """The customers and the planted group of each (an index into ``GROUPS``)."""
    drawn = list(_drawn_chunks(rows, seed))
    frame: pd.DataFrame = pa.concat_tables([table for table, _ in drawn]).to_pandas()
    return frame, np.concatenate([planted for _, planted in drawn])


def chunks(rows: int, seed: int) -> Iterator[pa.Table]:
    """The table in chunks of up to ``CHUNK_ROWS`` rows, each from its own seed."""
    for table, _ in _drawn_chunks(rows, seed):
        yield table


def _drawn_chunks(rows: int, seed: int) -> Iterator[tuple[pa.Table, np.ndarray]]:
    for number, start in enumerate(range(0, rows, CHUNK_ROWS)):
        size = min(CHUNK_ROWS, rows - start)
        yield _chunk(np.random.default_rng([seed, number]), start, size)


def _chunk(rng: np.random.Generator, first: int, rows: int) -> tuple[pa.Table, np.ndarray]:
    planted = rng.choice(len(GROUPS), size=rows, p=[g.weight for g in GROUPS])

    def per_group(values: list[float]) -> np.ndarray:
        return np.asarray(values, dtype=np.float64)[planted]

    def normal(attribute: str) -> np.ndarray:
        means_sds = [getattr(g, attribute) for g in GROUPS]
        return rng.normal(
            per_group([m for m, _ in means_sds]), per_group([s for _, s in means_sds])
        )

    def skewed_count(attribute: str, spread: float) -> np.ndarray:
        rate = per_group([getattr(g, attribute) for g in GROUPS])
        return rng.poisson(rate * rng.lognormal(0.0, spread, rows))

    def lognormal(attribute: str, spread: float) -> np.ndarray:
        median = per_group([getattr(g, attribute) for g in GROUPS])
        return median * rng.lognormal(0.0, spread, rows)

    def share(attribute: str, concentration: float = 20.0) -> np.ndarray:
        mean = per_group([getattr(g, attribute) for g in GROUPS])
        return np.round(rng.beta(mean * concentration, (1 - mean) * concentration), 3)

    orders = skewed_count("orders_12m", 0.4)
    basket = np.round(lognormal("average_basket", 0.35), 2)
    spend = np.round(orders * basket * rng.lognormal(0.0, 0.1, rows), 2)
    columns: dict[str, np.ndarray] = {
        "age": np.rint(normal("age")),
        "tenure_months": np.rint(normal("tenure_months")),
        "orders_12m": orders,
        "spend_12m": spend,
        "average_basket": basket,  # over the customer's whole history, so never 0
        "days_since_last_order": np.rint(lognormal("days_since_last_order", 0.6)),
        "web_sessions_30d": skewed_count("web_sessions_30d", 0.5),
        "email_open_rate": share("email_open_rate"),
        "discount_share": share("discount_share"),
        "return_rate": share("return_rate", 40.0),
        "support_tickets_12m": rng.poisson(per_group([g.support_tickets_12m for g in GROUPS])),
        "household_size": 1 + rng.poisson(per_group([g.household_size - 1 for g in GROUPS])),
    }
    arrays: dict[str, pa.Array] = {ID_COLUMN: _ids(first, rows)}
    for column in NUMERIC:
        values = np.clip(columns[column.name], column.minimum, column.maximum)
        arrays[column.name] = pa.array(values.astype(np.int64) if column.whole else values)
    arrays[CHANNEL.name] = _levels(rng, CHANNEL, [g.channel for g in GROUPS], planted)
    arrays[REGION.name] = _levels(rng, REGION, [REGION_SHARES] * len(GROUPS), planted)
    arrays[TIER.name] = _levels(rng, TIER, [g.loyalty_tier for g in GROUPS], planted)
    return pa.table(arrays), planted


def _ids(first: int, rows: int) -> pa.Array:
    """``W00000001``...: text identifiers, as CRM exports have them."""
    numbers = pc.cast(pa.array(np.arange(first + 1, first + rows + 1)), pa.string())
    return pc.binary_join_element_wise("W", pc.utf8_lpad(numbers, 8, "0"), "")


def _levels(
    rng: np.random.Generator,
    feature: Categorical,
    shares: list[tuple[float, ...]],
    planted: np.ndarray,
) -> pa.Array:
    """One level per customer, drawn from its group's shares (vectorised: 10M rows in ~1 s)."""
    cumulative = np.cumsum(np.asarray(shares, dtype=np.float64), axis=1)[planted]
    codes = (rng.random(len(planted))[:, None] >= cumulative[:, :-1]).sum(axis=1)
    return pa.DictionaryArray.from_arrays(
        pa.array(codes.astype(np.int32)), pa.array(feature.levels)
    ).dictionary_decode()


# ---------------------------------------------------------------------------------------------
# files


def write_table(rows: int, seed: int, path: Path) -> None:
    """Write ``rows`` customers to ``path`` (.csv or .parquet), chunk by chunk, atomically."""
    partial = path.with_name(f".{path.name}.partial")
    writer: pa_csv.CSVWriter | pq.ParquetWriter | None = None
    try:
        for table in chunks(rows, seed):
            if writer is None:
                writer = (
                    pq.ParquetWriter(partial, table.schema)
                    if path.suffix == ".parquet"
                    else pa_csv.CSVWriter(
                        partial,
                        table.schema,
                        write_options=pa_csv.WriteOptions(
                            quoting_style="none", quoting_header="none"
                        ),
                    )
                )
            writer.write_table(table)
    finally:
        if writer is not None:
            writer.close()
    partial.rename(path)


def cached_table(rows: int, suffix: str, seed: int = SCORING_SEED) -> Path:
    """The generated table under ``bench/.data`` (git-ignored), made on first use."""
    path = DATA_DIR / f"wide-{rows}-{seed}-{fingerprint()}{suffix}"
    if not path.exists():
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        write_table(rows, seed, path)
        print(f"generated {path} in {time.perf_counter() - started:.1f}s", flush=True)
    return path


def schema_toml() -> str:
    """The schema file training reads: every column's unit, range, transform and levels."""
    lines = ["# Written by bench/wide_data.py: the wide retailer table's columns.", ""]
    for column in NUMERIC:
        lines += [
            "[[feature]]",
            f'name = "{column.name}"',
            f'description = "{column.description}"',
            *([f'unit = "{column.unit}"'] if column.unit else []),
            f"minimum = {column.minimum}",
            f"maximum = {column.maximum}",
            *(['transform = "log1p"'] if column.log1p else []),
            "",
        ]
    for feature in CATEGORICAL:
        levels = ", ".join(f'"{level}"' for level in feature.levels)
        lines += [
            "[[feature]]",
            f'name = "{feature.name}"',
            f'description = "{feature.description}"',
            f"levels = [{levels}]",
            "",
        ]
    return "\n".join(lines)


def write_schema(path: Path) -> Path:
    path.write_text(schema_toml(), encoding="utf-8")
    return path


def train(models_dir: Path, scratch: Path, k: int | str = PLANTED_K) -> None:
    """Train the wide bundle with ``segment-train`` (``python -m training``) on the training
    rows, k = 5 unless told (``"auto"`` lets training choose)."""
    data = scratch / "wide-training.csv"
    write_table(TRAINING_ROWS, TRAINING_SEED, data)
    schema = write_schema(scratch / "wide-schema.toml")
    command = [sys.executable, "-m", "training", "--data", str(data), "--schema", str(schema)]
    command += ["--k", str(k), "--models-dir", str(models_dir), "--quiet"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        raise SystemExit(f"training the wide bundle failed:\n{done.stdout}{done.stderr}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=TRAINING_ROWS)
    parser.add_argument("--seed", type=int, default=TRAINING_SEED)
    parser.add_argument("--output", type=Path, required=True, help=".csv or .parquet")
    parser.add_argument("--schema", type=Path, help="also write the schema TOML here")
    args = parser.parse_args(argv)
    write_table(args.rows, args.seed, args.output)
    if args.schema:
        write_schema(args.schema)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
