"""How categorical features should enter K-Means: encodings compared on planted mixed data.

    python -m bench.categorical_encoding [--seed 2026] [--sets-per-family 8] [--workers 2]

On seeded sets of customers with planted segments, numeric features and categorical ones that
carry the segments (a binary one like gender, a many-level one concentrated by segment), carry
nothing (uniform levels) or both, each method clusters at the planted k:

- served: what training does (``training.fit.fit_scaler`` with a ``FeatureSchema``, then
  K-Means): numbers standardised, each categorical one-hot encoded as 0/1 indicators;
- plain one-hot: the same, built here independently (the report checks that the two give the
  same partitions);
- weighted one-hot, block variance v (v in ``BLOCK_VARIANCES``): each categorical's indicators
  multiplied by ``sqrt(v / sum p(1 - p))`` (``p``: the levels' shares), so that every
  categorical weighs v standardised numbers whatever its number of levels; v = 1 was training's
  first choice, and lost to plain one-hot on seeds 2026, 7 and 11 (see docs/own-data.md);
- codes as numbers: each level's code 0..L-1 standardised as if it were a number, then K-Means
  (for two levels this is the old "gender as 0/1" encoding, after scaling);
- k-prototypes (``kmodes``, Huang's algorithm with Cao's initialisation), numbers
  standardised, as a reference from outside the K-Means family;

and K-Means on the numbers alone as a second reference: how much the categoricals add or
take away. Each partition is scored by its adjusted Rand index against the planted labels.
Numbers alone separate the segments only moderately (centres 1.5 to 2.5 spreads apart), so
the encoding of the categoricals matters. Prints the mean ARI per family and method, the paired
differences of the served encoding against each other method and of each method against plain
one-hot, and the CPU time per method, and writes every set's result to
``bench/results/encoding-*.json``.

k-prototypes needs ``kmodes``, which is not a project dependency:
``.venv/bin/python -m pip install kmodes``.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score

from bench.machine import describe_machine, write_results
from segmentation.schema import CategoricalFeature, FeatureSchema, NumericFeature
from training.fit import N_INIT, fit_scaler, single_threaded

DEFAULT_SEED = 2026
DEFAULT_SETS_PER_FAMILY = 8
MIN_K, MAX_K = 3, 6
MIN_ROWS, MAX_ROWS = 300, 2_000
MIN_NUMBERS, MAX_NUMBERS = 2, 4
# Centre distance in units of the segments' spread: clouds that overlap, so the numbers alone
# find the segments only in part.
SEPARATION = (1.5, 2.5)
SIZE_RATIO = (1.0, 3.0)  # largest / smallest segment
MIN_SEGMENT_ROWS = 20
# An informative categorical puts this share of a segment's customers on the segment's own
# level (the rest spread evenly over all levels).
CONCENTRATION = (0.4, 0.8)
KPROTOTYPES_N_INIT = 4
KMODES_HINT = (
    "k-prototypes needs the kmodes package, which is not a project dependency; install it "
    "with: .venv/bin/python -m pip install kmodes"
)

SERVED = "served: one-hot (training.fit)"
PLAIN = "plain one-hot"
CODES = "codes as numbers (gender as 0/1)"
KPROTOTYPES = "k-prototypes (reference)"
NUMBERS_ONLY = "numbers only (reference)"
# Total variance of each categorical's weighted one-hot block; 1.0 was training's first weight.
BLOCK_VARIANCES = (0.25, 0.5, 0.75, 1.0)


def block_variance_name(variance: float) -> str:
    return f"weighted one-hot, block variance {variance:g}"


@dataclass(frozen=True)
class Categorical:
    """How one categorical column is drawn: each segment's share of each level."""

    shares: np.ndarray  # segments x levels, rows sum to 1
    informative: bool

    @property
    def levels(self) -> int:
        return int(self.shares.shape[1])


@dataclass(frozen=True)
class MixedSet:
    """One planted set: numbers, categorical level codes, and the segments that made them."""

    family: str
    index: int
    k: int
    numbers: np.ndarray  # rows x numeric features
    codes: np.ndarray  # rows x categorical features, level codes 0..L-1
    categoricals: tuple[Categorical, ...]
    labels: np.ndarray


# -- planted data ----------------------------------------------------------------------------


def informative(rng: np.random.Generator, k: int, levels: int) -> Categorical:
    """Each segment favours a level of its own (levels are shared out in turn if k > L)."""
    homes = rng.permutation(np.resize(rng.permutation(levels), k))
    concentration = rng.uniform(*CONCENTRATION, size=k)
    shares = np.tile((1.0 - concentration)[:, None] / levels, (1, levels))
    shares[np.arange(k), homes] += concentration
    return Categorical(shares, informative=True)


def noise(k: int, levels: int) -> Categorical:
    """Every level equally likely in every segment: the column says nothing about segments."""
    return Categorical(np.full((k, levels), 1.0 / levels), informative=False)


def informative_binary(rng: np.random.Generator, k: int) -> list[Categorical]:
    # One or two gender-like columns: each segment mostly one level (60 to 90%).
    return [informative(rng, k, 2) for _ in range(int(rng.integers(1, 3)))]


def informative_many_levels(rng: np.random.Generator, k: int) -> list[Categorical]:
    return [informative(rng, k, int(rng.integers(6, 11)))]


def noise_categorical(rng: np.random.Generator, k: int) -> list[Categorical]:
    return [noise(k, int(rng.integers(4, 9))) for _ in range(int(rng.integers(1, 3)))]


def mixed(rng: np.random.Generator, k: int) -> list[Categorical]:
    # At least one informative and one noise column, level counts 2 to 10, in a random order.
    columns = [informative(rng, k, int(rng.integers(2, 11))), noise(k, int(rng.integers(2, 11)))]
    if rng.random() < 0.5:
        levels = int(rng.integers(2, 11))
        columns.append(informative(rng, k, levels) if rng.random() < 0.5 else noise(k, levels))
    return [columns[i] for i in rng.permutation(len(columns))]


FAMILIES: dict[str, Callable[[np.random.Generator, int], list[Categorical]]] = {
    "informative binary": informative_binary,
    "informative many levels": informative_many_levels,
    "noise categorical": noise_categorical,
    "mixed": mixed,
}


def mixed_set(family: str, index: int, seed: int) -> MixedSet:
    """The ``index``-th set of a family, drawn from its own seed so it can be rebuilt alone."""
    rng = np.random.default_rng([seed, list(FAMILIES).index(family), index])
    k = int(rng.integers(MIN_K, MAX_K + 1))
    rows = round(np.exp(rng.uniform(np.log(MIN_ROWS), np.log(MAX_ROWS))))
    features = int(rng.integers(MIN_NUMBERS, MAX_NUMBERS + 1))
    weights = rng.uniform(*SIZE_RATIO) ** rng.permutation(np.linspace(0.0, 1.0, k))
    sizes = np.maximum(MIN_SEGMENT_ROWS, np.floor(rows * weights / weights.sum())).astype(int)
    labels = rng.permutation(np.repeat(np.arange(k), sizes))
    centres = place_centres(rng, k, features, rng.uniform(*SEPARATION))
    numbers = centres[labels] + rng.normal(size=(len(labels), features))
    categoricals = tuple(FAMILIES[family](rng, k))
    codes = np.column_stack(
        [draw_levels(rng, column.shares[labels]) for column in categoricals]
    ).astype(np.int64)
    return MixedSet(family, index, k, numbers, codes, categoricals, labels)


def place_centres(rng: np.random.Generator, k: int, features: int, separation: float) -> np.ndarray:
    """``k`` centres at least ``separation`` apart, packed in as small a box as allows it."""
    side = separation * max(1.0, k ** (1.0 / features))
    while True:
        for _ in range(200):
            centres = [rng.uniform(0.0, side, size=features)]
            for _ in range(50 * k):
                candidate = rng.uniform(0.0, side, size=features)
                if np.all(np.linalg.norm(np.array(centres) - candidate, axis=1) >= separation):
                    centres.append(candidate)
                    if len(centres) == k:
                        return np.array(centres)
        side *= 1.1


def draw_levels(rng: np.random.Generator, shares: np.ndarray) -> np.ndarray:
    """One level per row from that row's shares (inverse CDF on one uniform draw per row)."""
    cumulative = np.cumsum(shares, axis=1)
    drawn = (rng.random(len(shares))[:, None] > cumulative).sum(axis=1)
    return np.asarray(np.minimum(drawn, shares.shape[1] - 1))


# -- the encodings ---------------------------------------------------------------------------


def level_names(levels: int) -> list[str]:
    return [f"level {code}" for code in range(levels)]


def frame_and_schema(planted: MixedSet) -> tuple[pd.DataFrame, FeatureSchema]:
    """The set as training sees it: named columns, a schema with ranges and levels."""
    columns: dict[str, Any] = {}
    features: list[NumericFeature | CategoricalFeature] = []
    for i, values in enumerate(planted.numbers.T):
        name = f"number_{i}"
        columns[name] = values
        features.append(
            NumericFeature(name=name, minimum=float(values.min()), maximum=float(values.max()))
        )
    for j, column in enumerate(planted.categoricals):
        name = f"category_{j}"
        names = level_names(column.levels)
        columns[name] = [names[code] for code in planted.codes[:, j]]
        features.append(CategoricalFeature(name=name, levels=tuple(names)))
    return pd.DataFrame(columns), FeatureSchema(features=tuple(features))


def standardised(values: np.ndarray) -> np.ndarray:
    spread = values.std(axis=0)
    return np.asarray((values - values.mean(axis=0)) / np.where(spread > 0, spread, 1.0))


def kmeans_labels(matrix: np.ndarray, k: int, seed: int) -> np.ndarray:
    estimator = KMeans(n_clusters=k, n_init=N_INIT, random_state=seed).fit(matrix)
    return np.asarray(estimator.labels_)


def served_one_hot(planted: MixedSet, seed: int) -> np.ndarray:
    frame, schema = frame_and_schema(planted)
    _, scaled = fit_scaler(frame, schema)
    return kmeans_labels(scaled, planted.k, seed)


def plain_one_hot(planted: MixedSet, seed: int) -> np.ndarray:
    indicators = [
        np.eye(column.levels)[planted.codes[:, j]] for j, column in enumerate(planted.categoricals)
    ]
    matrix = np.column_stack([*standardised_columns(planted), *indicators])
    return kmeans_labels(matrix, planted.k, seed)


def standardised_columns(planted: MixedSet) -> list[np.ndarray]:
    """The numbers standardised column by column, as training's per-feature scalers do:
    summing a column on its own rounds differently from summing it inside a matrix, and plain
    one-hot should equal the served encoding bit for bit."""
    return [standardised(np.ascontiguousarray(values)) for values in planted.numbers.T]


def block_variance_one_hot(variance: float) -> Callable[[MixedSet, int], np.ndarray]:
    """Numbers standardised, each categorical's block scaled to total variance ``variance``.

    A block of indicators with level shares p has total variance ``sum p(1 - p)``; multiplying
    it by ``sqrt(variance / sum p(1 - p))`` makes that ``variance`` whatever the level count.
    """

    def encode(planted: MixedSet, seed: int) -> np.ndarray:
        blocks = standardised_columns(planted)
        for j, column in enumerate(planted.categoricals):
            shares = np.bincount(planted.codes[:, j], minlength=column.levels) / len(planted.codes)
            spread = float((shares * (1 - shares)).sum())
            weight = np.sqrt(variance) / np.sqrt(spread)
            blocks.append(weight * np.eye(column.levels)[planted.codes[:, j]])
        return kmeans_labels(np.column_stack(blocks), planted.k, seed)

    return encode


def codes_as_numbers(planted: MixedSet, seed: int) -> np.ndarray:
    matrix = standardised(np.hstack([planted.numbers, planted.codes.astype(np.float64)]))
    return kmeans_labels(matrix, planted.k, seed)


def k_prototypes(planted: MixedSet, seed: int) -> np.ndarray:
    from kmodes.kprototypes import KPrototypes

    numbers = planted.numbers.shape[1]
    matrix = np.hstack([standardised(planted.numbers), planted.codes.astype(np.float64)])
    model = KPrototypes(
        n_clusters=planted.k, init="Cao", n_init=KPROTOTYPES_N_INIT, random_state=seed, n_jobs=1
    )
    labels = model.fit_predict(
        matrix, categorical=list(range(numbers, numbers + len(planted.categoricals)))
    )
    return np.asarray(labels)


def numbers_only(planted: MixedSet, seed: int) -> np.ndarray:
    return kmeans_labels(standardised(planted.numbers), planted.k, seed)


METHODS: dict[str, Callable[[MixedSet, int], np.ndarray]] = {
    SERVED: served_one_hot,
    **{block_variance_name(v): block_variance_one_hot(v) for v in BLOCK_VARIANCES},
    PLAIN: plain_one_hot,
    CODES: codes_as_numbers,
    KPROTOTYPES: k_prototypes,
    NUMBERS_ONLY: numbers_only,
}
COMPARED = [block_variance_name(1.0), CODES, KPROTOTYPES, NUMBERS_ONLY]  # each against served
AGAINST_PLAIN = [name for name in METHODS if name not in (PLAIN, SERVED)]  # each minus plain


def evaluate_set(family: str, index: int, seed: int) -> dict[str, Any]:
    """Every method's ARI and CPU time on one planted set."""
    planted = mixed_set(family, index, seed)
    ari: dict[str, float] = {}
    seconds: dict[str, float] = {}
    with single_threaded():
        for name, method in METHODS.items():
            started = time.process_time()
            labels = method(planted, seed)
            seconds[name] = time.process_time() - started
            ari[name] = float(adjusted_rand_score(planted.labels, labels))
    return {
        "family": family,
        "index": index,
        "k": planted.k,
        "rows": len(planted.labels),
        "numeric_features": planted.numbers.shape[1],
        "categoricals": [
            {
                "levels": column.levels,
                "informative": column.informative,
                "shares": np.round(column.shares, 4).tolist(),
            }
            for column in planted.categoricals
        ],
        "ari": ari,
        "seconds": seconds,
    }


# -- report ----------------------------------------------------------------------------------


def ari_table(records: list[dict[str, Any]]) -> str:
    """Mean ARI per family and method, and overall."""
    lines = [
        "| Family | Sets | " + " | ".join(METHODS) + " |",
        "|---|---:|" + "---:|" * len(METHODS),
    ]
    for family in [*FAMILIES, "overall"]:
        mine = [r for r in records if family in ("overall", r["family"])]
        cells = [f"{np.mean([r['ari'][name] for r in mine]):.3f}" for name in METHODS]
        label = f"**{family}**" if family == "overall" else family
        lines.append(f"| {label} | {len(mine)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def paired_table(
    records: list[dict[str, Any]], pairs: Iterable[tuple[str, str]], header: Iterable[str]
) -> str:
    """The first method of each pair minus the second, set by set: mean, and sets ahead /
    behind by more than 0.01 ARI."""
    pairs = list(pairs)
    lines = ["| Family | " + " | ".join(header) + " |", "|---|" + "---:|" * len(pairs)]
    for family in [*FAMILIES, "overall"]:
        mine = [r for r in records if family in ("overall", r["family"])]
        cells = []
        for first, second in pairs:
            differences = np.array([r["ari"][first] - r["ari"][second] for r in mine])
            ahead, behind = int((differences > 0.01).sum()), int((differences < -0.01).sum())
            cells.append(f"{differences.mean():+.3f} ({ahead}/{behind})")
        label = f"**{family}**" if family == "overall" else family
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def same_partitions(records: list[dict[str, Any]]) -> str:
    """Whether plain one-hot, built here, scores exactly as what training serves."""
    same = sum(r["ari"][PLAIN] == r["ari"][SERVED] for r in records)
    return f"{PLAIN} has the same ARI as {SERVED} on {same} of {len(records)} sets"


def time_table(records: list[dict[str, Any]]) -> str:
    lines = ["| Method | CPU s per set (mean) | CPU s in all |", "|---|---:|---:|"]
    for name in METHODS:
        times = [r["seconds"][name] for r in records]
        lines.append(f"| {name} | {np.mean(times):.3f} | {np.sum(times):.1f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--sets-per-family", type=int, default=DEFAULT_SETS_PER_FAMILY)
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    args = parser.parse_args()
    if importlib.util.find_spec("kmodes") is None:
        sys.exit(KMODES_HINT)
    plan = [(family, index) for family in FAMILIES for index in range(args.sets_per_family)]
    print(
        f"categorical encoding benchmark: {len(plan)} planted sets, seed {args.seed}, "
        f"{args.workers} processes",
        flush=True,
    )
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        futures = [pool.submit(evaluate_set, family, index, args.seed) for family, index in plan]
        records = [future.result() for future in futures]
    elapsed = time.perf_counter() - started
    print(f"\n**Adjusted Rand index at the planted k** (mean over sets; seed {args.seed})\n")
    print(ari_table(records))
    print(
        "\n**The served encoding minus each method**, mean ARI difference "
        "(sets ahead / behind by more than 0.01)\n"
    )
    pairs = [(SERVED, name) for name in COMPARED]
    print(paired_table(records, pairs, [f"vs {name}" for name in COMPARED]))
    print(
        "\n**Each method minus plain one-hot**, mean ARI difference "
        "(sets ahead / behind by more than 0.01)\n"
    )
    print(paired_table(records, [(name, PLAIN) for name in AGAINST_PLAIN], AGAINST_PLAIN))
    print(f"\n{same_partitions(records)}")
    print("\n**CPU time per method** (one thread)\n")
    print(time_table(records))
    print(f"\n{len(records)} sets in {elapsed:.0f}s wall time")
    machine = describe_machine() | {
        "seed": args.seed,
        "sets_per_family": args.sets_per_family,
        "wall_seconds": round(elapsed, 1),
        "kmodes": _kmodes_version(),
    }
    path = write_results("encoding", records, machine)
    print(f"every set's results written to {path}")


def _kmodes_version() -> str:
    from importlib.metadata import version

    return version("kmodes")


if __name__ == "__main__":
    main()
