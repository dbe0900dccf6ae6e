"""What changes between one k and the next: the split tree (a "clustree") of the k range.

For every k in the range, how the customers of each segment at k are shared among the segments
at k + 1, counted on the rows every k was fitted on (Zappia and Oshlack's clustering trees,
2018, draw exactly this to help choose a resolution). Stored in the metadata with the runner-up
k, so the report, the command line and the page can say in words what choosing it instead
would change ("k = 6 splits 'High income, high spending' into two of 31 and 9 customers":
``segmentation.k_choice``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

import numpy as np

from segmentation.metadata import KLevel, KScore, SegmentFlow, SplitTree
from training.split_test import Split, any_distinct, deepest_valley


def flows_between(lower: np.ndarray, higher: np.ndarray) -> list[SegmentFlow]:
    """Every non-empty (segment at the lower k, segment at the higher k) pair, with its count and
    its share of the lower segment's customers, in (source, target) order."""
    sources, targets = int(lower.max()) + 1, int(higher.max()) + 1
    counts = np.zeros((sources, targets), dtype=np.int64)
    np.add.at(counts, (lower, higher), 1)
    totals = counts.sum(axis=1)
    return [
        SegmentFlow(
            source=source,
            target=target,
            customers=int(counts[source, target]),
            share=float(counts[source, target] / totals[source]),
        )
        for source, target in zip(*np.nonzero(counts), strict=True)
    ]


def build_split_tree(
    labels: Mapping[int, np.ndarray],
    steps: Mapping[int, Sequence[Split]],
    runner_up: int | None,
    chosen: int,
) -> SplitTree:
    """The tree over the k in ``labels`` (each k's segment of the same rows, in the same order),
    with the split test's clean splits from each k to the next (``steps``)."""
    ks = sorted(labels)
    levels = []
    for k, following in zip(ks, [*ks[1:], None], strict=True):
        sizes = np.bincount(labels[k], minlength=k)
        levels.append(
            KLevel(
                k=k,
                sizes=[int(size) for size in sizes],
                flows=[] if following is None else flows_between(labels[k], labels[following]),
                split_valley=None if k not in steps else deepest_valley(steps[k]),
                split_distinct=None if k not in steps else any_distinct(steps[k]),
            )
        )
    direct: list[SegmentFlow] = []
    if runner_up is not None and runner_up in labels:
        low, high = sorted((chosen, runner_up))
        direct = flows_between(labels[low], labels[high])
    return SplitTree(
        rows=len(labels[ks[0]]), levels=levels, runner_up=runner_up, runner_up_flows=direct
    )


def runner_up_k(
    votes: Mapping[str, int], chosen: int, voted: int | None, table: list[KScore]
) -> int | None:
    """The k with the strongest evidence after the chosen one.

    When the split test moved k from the vote's, the vote's k; otherwise the k other than the
    chosen one that most criteria named (the nearest to the chosen one on a tie, then the
    lower); when every criterion named the chosen k, the k with the next best silhouette.
    """
    if voted is not None and voted != chosen:
        return voted
    named = Counter(k for k in votes.values() if k != chosen)
    if named:
        return min(named, key=lambda k: (-named[k], abs(k - chosen), k))
    scored = [row for row in table if row.k != chosen and row.silhouette is not None]
    if not scored:
        return None
    return max(scored, key=lambda row: (row.silhouette or 0.0, -abs(row.k - chosen))).k
