"""How k was chosen, in words: one wording for the report, the command line and the page.

Training decides k (``training.choose_k``) and stores the evidence in the metadata: each
criterion's best k, the vote's k, the chosen k and the split tree with its runner-up k. This
module says it in sentences. The service says it again when it loads a bundle, so the page reads
the same words as the report, with the names the segments are served under now (a marketer may
have renamed them since training) and for bundles written before these sentences existed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence

from segmentation.metadata import (
    KLevel,
    KSelection,
    SegmentFlow,
    SegmentProfile,
    SplitTree,
    TrainingSummary,
)

# The criteria that vote for a k, as metadata names them and as people read them.
CRITERION_LABELS = {
    "silhouette": "silhouette",
    "calinski_harabasz": "Calinski-Harabasz",
    "davies_bouldin": "Davies-Bouldin",
    "gap_statistic": "gap statistic",
}

# A count of criteria at the start of a sentence.
_COUNTS = {1: "One", 2: "Two", 3: "Three", 4: "Four", 5: "Five", 6: "Six"}
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
    counted = _counted(tree)
    if other > chosen:
        return _splits(tree.runner_up_flows, other, lambda s: _quote(names, s), counted)
    divided = _divided(tree.runner_up_flows)
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


def split_steps(selection: KSelection, names: Mapping[int, str]) -> list[str]:
    """What each k of the split tree changes from the k below it, in words, for the page's
    tree: the chosen k's segments by ``names`` (``names_by_row``: as they are served now), the
    others by their size. Empty without a split tree."""
    tree = selection.split_tree
    if tree is None:
        return []
    counted = _counted(tree)

    def namer(level: KLevel) -> Callable[[int], str]:
        if level.k == selection.chosen_k:
            return lambda segment: _quote(names, segment)
        return lambda segment: f"the segment of {level.sizes[segment]:,}"

    return [
        _splits(level.flows, level.k + 1, namer(level), counted)
        for level in tree.levels
        if level.flows
    ]


def _counted(tree: SplitTree) -> str:
    return f" (counted on {tree.rows:,} customers)" if tree.rows else ""


def _divided(flows: Sequence[SegmentFlow]) -> dict[int, list[SegmentFlow]]:
    """The lower k's segments that become two or more at the higher k, each with its pieces,
    largest first: a segment at the higher k is a piece of the one that gave it most of its
    customers, and a piece counts from ``NOTABLE_SHARE`` of it."""
    pieces: dict[int, list[SegmentFlow]] = {}
    for target in {flow.target for flow in flows}:
        into = [flow for flow in flows if flow.target == target]
        main = max(into, key=lambda flow: (flow.customers, -flow.source))
        pieces.setdefault(main.source, []).append(main)
    divided = {
        source: sorted(
            (flow for flow in found if flow.share >= NOTABLE_SHARE), key=lambda f: -f.customers
        )
        for source, found in sorted(pieces.items())
    }
    return {source: found for source, found in divided.items() if len(found) >= 2}


def _splits(
    flows: Sequence[SegmentFlow], higher: int, name: Callable[[int], str], counted: str
) -> str:
    divided = _divided(flows)
    if not divided:
        return f"k = {higher} redraws the boundaries without splitting one segment{counted}"
    parts = [
        f"splits {name(source)} into {_number(len(found))} of "
        f"{_listed([f'{flow.customers:,}' for flow in found])} customers"
        for source, found in divided.items()
    ]
    return f"k = {higher} {_listed(parts)}"


def segments_counted(count: int) -> str:
    """A number of segments as a sentence says it: "1 segment", "2 segments"."""
    return f"{count} segment" if count == 1 else f"{count} segments"


def _verb(count: int, verb: str) -> str:
    return f"{verb}s" if count == 1 else verb


def _quote(names: Mapping[int, str], segment: int) -> str:
    return f"'{names[segment]}'" if segment in names else f"segment {segment}"


def _number(count: int) -> str:
    return {2: "two", 3: "three", 4: "four"}.get(count, str(count))


def _listed(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def how_chosen(votes: dict[str, int], voted_k: int | None, chosen_k: int) -> str:
    """How ``--k auto`` reached the chosen k, in words for the report and the command line: the
    vote, and what the split test changed from it (segments added that stand apart, or one
    taken back where the vote's k shows a segment cut in two)."""
    reason = consensus_reason(votes)
    if voted_k is None or voted_k == chosen_k:
        return reason
    if chosen_k > voted_k:
        added = chosen_k - voted_k
        change = (
            f"the split test added {segments_counted(added)} that {_verb(added, 'stand')} apart"
        )
    else:
        change = (
            f"the split test took back {segments_counted(voted_k - chosen_k)}: at k = {voted_k} a "
            "segment and its nearest one are fitted better by one Gaussian than by two"
        )
    return f"the vote gave k = {voted_k} ({reason}) and {change}"


def consensus_reason(votes: dict[str, int]) -> str:
    """How ``consensus`` reached its k, in words for the report and the command line."""
    most = named_most(votes)
    if most is not None:
        return f"named by {list(votes.values()).count(most)} of the {len(votes)} criteria"
    return "the lower median of their choices" if len(votes) % 2 == 0 else "their median"


def named_most(votes: dict[str, int]) -> int | None:
    """The k more criteria named than any other, if one is (by two at least)."""
    ranked = Counter(votes.values()).most_common(2)
    top, count = ranked[0]
    if count >= 2 and (len(ranked) == 1 or ranked[1][1] < count):
        return top
    return None


def k_choice(selection: KSelection) -> str:
    """How k was chosen, in a sentence for the page: the k tried, the criteria's vote and what
    the split test changed, or that k was fixed, or that no k showed segments."""
    chosen = selection.chosen_k
    if selection.mode == "fixed":
        return (
            f"k is the number of segments: it was set to {chosen} when the model was trained, "
            "and no other k was tried."
        )
    tried = sorted(row.k for row in selection.table)
    said = "k is the number of segments: training tried " + (
        "several k."
        if not tried
        else f"k = {tried[0]}."
        if len(tried) == 1
        else f"k = {tried[0]} to {tried[-1]}."
    )
    if selection.structure == "none":
        return (
            f"{said} No k showed clear segments, so k = {chosen} is an arbitrary cut of one "
            "cloud of customers."
        )
    if not selection.votes:
        return f"{said} The rule chose k = {chosen}."
    count = len(selection.votes)
    named = _COUNTS.get(count, str(count)) + (" criterion" if count == 1 else " criteria each")
    return (
        f"{said} {named} named the k that separates the customers best by its own "
        f"measure. The model has k = {chosen}: "
        f"{how_chosen(selection.votes, selection.voted_k, chosen)}."
    )
