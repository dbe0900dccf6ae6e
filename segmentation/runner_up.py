"""What choosing the runner-up k instead would change, in words naming the segments.

Training stores the split tree (``training.split_tree``) with the runner-up k; the report and
the command line say at training time what that k changes, and the service says it again with
the names the segments are served under now (a marketer may have renamed them), for the page.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from segmentation.metadata import SegmentFlow, SegmentProfile, SplitTree, TrainingSummary

# A segment at the higher k counts as a piece of the lower k's segment that gave it most of its
# customers; pieces smaller than this share of that segment are not worth a sentence.
NOTABLE_SHARE = 0.05


def runner_up_change(summary: TrainingSummary) -> str | None:
    """What the runner-up k would change, named by the model's segments as they are now; None
    without a split tree (a fixed k, an older bundle) or when no k showed segments, where the
    runner-up would be as arbitrary a cut as the chosen k."""
    selection = summary.k_selection
    if selection.split_tree is None or selection.structure == "none":
        return None
    return describe_runner_up(selection.split_tree, summary.k, names_by_row(summary.segments))


def names_by_row(segments: Sequence[SegmentProfile]) -> dict[int, str]:
    """Segment names by centroid row (ascending segment id), as the tree numbers the chosen k."""
    return dict(enumerate(p.name for p in sorted(segments, key=lambda p: p.id)))


def describe_runner_up(tree: SplitTree, chosen: int, names: Mapping[int, str]) -> str | None:
    """What the runner-up k changes, in words, naming the chosen k's segments by ``names``.

    Each segment at the higher k is a piece of the lower k's segment that gave it most of its
    customers: a segment with two or more pieces is split (runner-up above) or merged (below).
    """
    other = tree.runner_up
    if other is None or not tree.runner_up_flows:
        return None
    pieces: dict[int, list[SegmentFlow]] = {}
    for target in {flow.target for flow in tree.runner_up_flows}:
        into = [flow for flow in tree.runner_up_flows if flow.target == target]
        main = max(into, key=lambda flow: (flow.customers, -flow.source))
        pieces.setdefault(main.source, []).append(main)
    divided = {
        source: sorted(
            (flow for flow in found if flow.share >= NOTABLE_SHARE), key=lambda f: -f.customers
        )
        for source, found in sorted(pieces.items())
    }
    divided = {source: found for source, found in divided.items() if len(found) >= 2}
    counted = f" (counted on {tree.rows:,} customers)" if tree.rows else ""
    if other > chosen:
        if not divided:
            return f"k = {other} redraws the boundaries without splitting one segment{counted}"
        parts = [
            f"splits {_quote(names, source)} into {_number(len(found))} of "
            f"{_listed([f'{flow.customers:,}' for flow in found])} customers"
            for source, found in divided.items()
        ]
        return f"k = {other} {_listed(parts)}"
    sizes = {flow.target: 0 for flow in tree.runner_up_flows}
    for flow in tree.runner_up_flows:
        sizes[flow.target] += flow.customers
    if not divided:
        return f"k = {other} redraws the boundaries without merging two segments{counted}"
    parts = [
        f"merges {_listed([_quote(names, flow.target) for flow in found])} (of "
        f"{_listed([f'{sizes[flow.target]:,}' for flow in found])} customers) into one"
        for found in divided.values()
    ]
    return f"k = {other} {_listed(parts)}"


def _quote(names: Mapping[int, str], segment: int) -> str:
    return f"'{names[segment]}'" if segment in names else f"segment {segment}"


def _number(count: int) -> str:
    return {2: "two", 3: "three", 4: "four"}.get(count, str(count))


def _listed(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
