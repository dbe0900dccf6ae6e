"""How k was chosen and what the runner-up k would change, in the words the report, the
command line and the page share (``segmentation.k_choice``)."""

from __future__ import annotations

import pytest

from segmentation.k_choice import describe_runner_up, how_chosen, k_choice, split_steps
from segmentation.metadata import KLevel, KSelection, SegmentFlow, SplitTree
from tests.training.test_choose_k import score

FOUR = {"silhouette": 6, "calinski_harabasz": 8, "davies_bouldin": 6, "gap_statistic": 3}
CRITERIA = "criteria each named the k that separates the customers best by its own measure."


def selection(ks: range, chosen: int, **fields: object) -> KSelection:
    table = [score(k, silhouette=0.5, knee=0.0) for k in ks]
    settings: dict[str, object] = {
        "mode": "auto",
        "k_range": (ks[0], ks[-1]),
        "rule": "the rule",
        "knee_k": None,
        "chosen_k": chosen,
        "table": table,
        "structure": "segments",
        **fields,
    }
    return KSelection.model_validate(settings)


@pytest.mark.parametrize(
    ("chosen", "votes", "voted", "said"),
    [
        (6, FOUR, 6, "Four " + CRITERIA + " The model has k = 6: named by 2 of the 4 criteria."),
        (
            8,
            FOUR,
            6,
            "Four " + CRITERIA + " The model has k = 8: the vote gave k = 6 (named by 2 of the 4 "
            "criteria) and the split test added 2 segments that stand apart.",
        ),
        (
            5,
            FOUR,
            6,
            "Four " + CRITERIA + " The model has k = 5: the vote gave k = 6 (named by 2 of the 4 "
            "criteria) and the split test took back 1 segment: at k = 6 a segment and its "
            "nearest one are fitted better by one Gaussian than by two.",
        ),
        (
            # No k named most: the lower median, as the rule takes it.
            3,
            {"silhouette": 2, "calinski_harabasz": 3, "davies_bouldin": 5, "gap_statistic": 8},
            3,
            "Four " + CRITERIA + " The model has k = 3: the lower median of their choices.",
        ),
        (
            # The gap statistic votes only for a k in the range.
            4,
            {"silhouette": 4, "calinski_harabasz": 4, "davies_bouldin": 5},
            None,
            "Three " + CRITERIA + " The model has k = 4: named by 2 of the 3 criteria.",
        ),
    ],
)
def test_the_vote_and_the_split_test_in_the_reports_words(
    chosen: int, votes: dict[str, int], voted: int | None, said: str
) -> None:
    sentence = k_choice(selection(range(2, 11), chosen, votes=votes, voted_k=voted))
    assert sentence == f"k is the number of segments: training tried k = 2 to 10. {said}"


def test_the_k_tried_are_those_fitted_not_the_range_asked_for() -> None:
    """Training fits no k with as many segments as customers: 8 rows leave k = 2 to 7."""
    sentence = k_choice(selection(range(2, 8), 3, votes={"silhouette": 3}, k_range=(2, 10)))
    assert sentence.startswith(
        "k is the number of segments: training tried k = 2 to 7. One criterion named"
    )


def test_a_fixed_k_was_set_not_chosen() -> None:
    fixed = selection(range(5, 6), 5, mode="fixed", k_range=None, structure=None)
    assert k_choice(fixed) == (
        "k is the number of segments: it was set to 5 when the model was trained, and no other k "
        "was tried."
    )


def test_no_clear_segments_is_said_instead_of_a_vote() -> None:
    cloud = selection(range(2, 9), 2, structure="none", votes=FOUR, voted_k=6)
    assert k_choice(cloud) == (
        "k is the number of segments: training tried k = 2 to 8. No k showed clear segments, so "
        "k = 2 is an arbitrary cut of one cloud of customers."
    )


def test_a_bundle_from_before_the_vote_was_stored_names_the_rule() -> None:
    older = selection(range(2, 9), 4, structure=None)
    assert k_choice(older) == (
        "k is the number of segments: training tried k = 2 to 8. The rule chose k = 4."
    )


def test_one_segment_added_and_one_k_tried_read_in_the_singular() -> None:
    one = selection(range(4, 5), 4, votes={"silhouette": 4, "davies_bouldin": 4}, voted_k=3)
    assert k_choice(one) == (
        "k is the number of segments: training tried k = 4. Two criteria each named the k that "
        "separates the customers best by its own measure. The model has k = 4: the vote gave "
        "k = 3 (named by 2 of the 2 criteria) and the split test added 1 segment that stands "
        "apart."
    )


@pytest.mark.parametrize(
    ("voted", "chosen", "said"),
    [
        (5, 5, "named by 3 of the 4 criteria"),
        (None, 5, "named by 3 of the 4 criteria"),
        (
            5,
            7,
            "the vote gave k = 5 (named by 3 of the 4 criteria) and the split test added 2 "
            "segments that stand apart",
        ),
        (
            5,
            4,
            "the vote gave k = 5 (named by 3 of the 4 criteria) and the split test took back 1 "
            "segment: at k = 5 a segment and its nearest one are fitted better by one Gaussian "
            "than by two",
        ),
    ],
    ids=["as-voted", "fixed-or-older", "segments-added", "segment-taken-back"],
)
def test_how_the_chosen_k_was_reached_is_said_in_words(
    voted: int | None, chosen: int, said: str
) -> None:
    # The command line and the report say it alike; a k taken back is not "added -1".
    votes = {"silhouette": 5, "calinski_harabasz": 5, "davies_bouldin": 5, "gap_statistic": 4}
    assert how_chosen(votes, voted, chosen) == said


def _tree(flows: list[SegmentFlow], runner_up: int, rows: int = 100) -> SplitTree:
    return SplitTree(rows=rows, levels=[], runner_up=runner_up, runner_up_flows=flows)


def _flow(source: int, target: int, customers: int, total: int) -> SegmentFlow:
    return SegmentFlow(source=source, target=target, customers=customers, share=customers / total)


def test_a_higher_runner_up_splits_a_named_segment() -> None:
    # Chosen k = 2 (segments of 60 and 40); k = 3 divides segment 1 into 31 and 9.
    flows = [_flow(0, 0, 60, 60), _flow(1, 1, 31, 40), _flow(1, 2, 9, 40)]
    names = {0: "Low income, low spending", 1: "High income, high spending"}
    assert describe_runner_up(_tree(flows, 3), 2, names) == (
        "k = 3 splits 'High income, high spending' into two of 31 and 9 customers"
    )


def test_a_lower_runner_up_merges_named_segments() -> None:
    # Chosen k = 3; at k = 2 segments 1 (31) and 2 (9) are one.
    flows = [_flow(0, 0, 60, 60), _flow(1, 1, 31, 40), _flow(1, 2, 9, 40)]
    names = {0: "A", 1: "B", 2: "C"}
    assert describe_runner_up(_tree(flows, 2), 3, names) == (
        "k = 2 merges 'B' and 'C' (of 31 and 9 customers) into one"
    )


def test_a_runner_up_that_only_moves_boundaries_says_so() -> None:
    flows = [_flow(0, 0, 50, 60), _flow(0, 1, 10, 60), _flow(1, 1, 40, 40)]
    assert describe_runner_up(_tree(flows, 3), 2, {}) is not None
    sentence = describe_runner_up(_tree(flows, 3), 2, {0: "A", 1: "B"})
    assert sentence is not None
    assert "redraws the boundaries" in sentence


def _level(k: int, sizes: list[int], moves: list[tuple[int, int, int]]) -> KLevel:
    """A tree level from (segment, next segment, customers) moves; shares of the segment."""
    flows = [_flow(source, target, customers, sizes[source]) for source, target, customers in moves]
    return KLevel(k=k, sizes=sizes, flows=flows)


def test_each_step_of_the_tree_says_what_it_splits_naming_only_the_chosen_ks_segments() -> None:
    # k = 2 (60, 40) -> 3 divides segment 1 into 31 and 9; k = 3 (chosen) -> 4 divides segment 0
    # (60) into 35 and 25 and moves one customer; k = 4 -> 5 cuts 6 customers off the segment of 36.
    levels = [
        _level(2, [60, 40], [(0, 0, 60), (1, 1, 31), (1, 2, 9)]),
        _level(3, [60, 31, 9], [(0, 0, 35), (0, 3, 25), (1, 1, 30), (1, 0, 1), (2, 2, 9)]),
        _level(4, [36, 30, 9, 25], [(0, 0, 30), (0, 4, 6), (1, 1, 30), (2, 2, 9), (3, 3, 25)]),
        _level(5, [30, 30, 9, 25, 6], []),
    ]
    tree = SplitTree(rows=100, levels=levels, runner_up=4, runner_up_flows=levels[1].flows)
    names = {0: "Young", 1: "Wealthy", 2: "Thrifty"}
    steps = split_steps(selection(range(2, 6), 3, split_tree=tree), names)
    assert steps == [
        "k = 3 splits the segment of 40 into two of 31 and 9 customers",
        "k = 4 splits 'Young' into two of 35 and 25 customers",
        "k = 5 splits the segment of 36 into two of 30 and 6 customers",
    ]
    # The runner-up's sentence is the same words as its step.
    assert describe_runner_up(tree, 3, names) == steps[1]
    assert split_steps(selection(range(2, 6), 3), names) == []
