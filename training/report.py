"""Step 6 of training: a self-contained HTML report a person reads before trusting the model.

The report shows how k was chosen, the segments in feature space, how the segments differ
feature by feature, the data that was read or rejected, what changes for customers against
the model this one replaces (a heat map of the transition matrix), and how stable the segments
are. Images are PNGs embedded in the page, so the single file can be mailed or attached to a
ticket. Each segment keeps one colour in every chart, and the legend pairs it with the
segment's name.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from sklearn.decomposition import PCA

from segmentation.comparison import (
    describe_left_out,
    describe_moves,
    format_shift,
    transition_matrix,
)
from segmentation.k_choice import (
    CRITERION_LABELS,
    NOTABLE_SHARE,
    how_chosen,
    runner_up_change,
    segments_counted,
)
from segmentation.metadata import (
    SEGMENT_SAMPLE_COLUMN,
    Comparison,
    SegmentProfile,
    TrainingSummary,
)
from segmentation.schema import NumericFeature
from training.choose_k import structure_evidence
from training.split_test import MIXTURE_EVIDENCE, MIXTURE_GAIN, VALLEY_RATIO

SEGMENT_COLUMN = SEGMENT_SAMPLE_COLUMN
REPORT_SAMPLE_ROWS = 2_000


def numeric_features(summary: TrainingSummary) -> list[str]:
    """The features charts can put on an axis (categorical ones are tabled by level)."""
    return [f.name for f in summary.feature_schema.features if isinstance(f, NumericFeature)]


def axis_label(summary: TrainingSummary, name: str) -> str:
    """``annual_income (k$)``; ``log scale`` is said where the model reads log(1 + value)."""
    feature = summary.feature_schema.feature(name)
    assert isinstance(feature, NumericFeature)
    unit = f" ({feature.unit})" if feature.unit else ""
    return f"{name}{unit}"


def report_sample(frame: pd.DataFrame, labels: np.ndarray, seed: int) -> pd.DataFrame:
    """A seeded sample of the training rows (features and segment only) for the charts."""
    sample = frame.assign(**{SEGMENT_COLUMN: labels})
    if len(sample) > REPORT_SAMPLE_ROWS:
        sample = sample.sample(REPORT_SAMPLE_ROWS, random_state=seed)
    return sample.reset_index(drop=True)


def segment_colour(segment_id: int, k: int) -> tuple[float, float, float, float]:
    palette = plt.get_cmap("tab10" if k <= 10 else "tab20")
    colour: tuple[float, float, float, float] = palette(segment_id % palette.N)
    return colour


def render_report(summary: TrainingSummary, sample: pd.DataFrame) -> str:
    sections = [
        _header(summary),
        _data_section(summary),
        _k_section(summary),
        _segments_section(summary, sample),
        _changes_section(summary),
        _stability_section(summary),
    ]
    return _PAGE.format(body="\n".join(sections))


# -- sections --------------------------------------------------------------------------------


def _header(summary: TrainingSummary) -> str:
    metrics = summary.metrics
    silhouette = "undefined" if metrics.silhouette is None else f"{metrics.silhouette:.3f}"
    if metrics.silhouette_sample_size:
        silhouette += f" (on a seeded sample of {metrics.silhouette_sample_size:,} rows)"
    algorithm = "K-Means" if summary.algorithm == "kmeans" else "Mini-batch K-Means"
    warnings = [summary.k_selection.warning]
    if summary.stability:
        warnings.append(summary.stability.warning)
    warning = "\n".join(f'<p class="warning">Warning: {_e(text)}</p>' for text in warnings if text)
    return f"""<h1>Customer segmentation model</h1>
{warning}
<table class="facts">
<tr><th>Segments</th><td>{summary.k} ({_e(summary.k_selection.mode)} k)</td></tr>
<tr><th>Features</th><td>{_e(", ".join(summary.features))} (standard-scaled)</td></tr>
<tr><th>Algorithm</th><td>{algorithm}, seed {summary.seed}</td></tr>
<tr><th>Silhouette</th><td>{silhouette}</td></tr>
<tr><th>Inertia</th><td>{metrics.inertia:,.3f} (scaled units)</td></tr>
</table>"""


def _data_section(summary: TrainingSummary) -> str:
    quality, data = summary.data_quality, summary.training_data
    policy = "refuse the data" if quality.policy == "fail" else "drop invalid rows"
    rows = [
        ("Source", f"{_e(data.source)} ({data.kind})"),
        ("sha256", f"<code>{data.sha256}</code>"),
        ("Rows read", f"{quality.rows_read:,}"),
        ("Rows used", f"{quality.rows_used:,}"),
        ("Rows rejected", f"{quality.rows_dropped:,}"),
        ("Policy for invalid rows", policy),
    ]
    facts = "\n".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
    if quality.problems:
        problems = _table(
            ["Column", "Problem", "Rows", "Examples (row: value)"],
            [
                [
                    _e(p.column),
                    _e(p.problem),
                    f"{p.count:,}",
                    _e(", ".join(f"{e.row}: {e.value}" for e in p.examples)),
                ]
                for p in quality.problems
            ],
        )
    else:
        problems = "<p>No invalid rows.</p>"
    return f"""<h2>Data</h2>
<table class="facts">{facts}</table>
<h3>Rejected rows and why</h3>
{problems}"""


def _k_section(summary: TrainingSummary) -> str:
    selection = summary.k_selection
    header = ["k", "Inertia", "Silhouette", "Calinski-Harabasz", "Davies-Bouldin", "Knee distance"]
    rows = [
        [
            f"<strong>{s.k}</strong>" if s.k == selection.chosen_k else str(s.k),
            f"{s.inertia:,.2f}",
            _num(s.silhouette),
            _num(s.calinski_harabasz, 1),
            _num(s.davies_bouldin),
            _num(s.knee_distance),
        ]
        for s in selection.table
    ]
    chart = (
        _image(
            _k_figure(summary),
            "k-selection curves: inertia with the knee, silhouette, "
            "Calinski-Harabasz and Davies-Bouldin for every k",
        )
        if selection.mode == "auto"
        else "<p>k was fixed by the user, so no range was evaluated.</p>"
    )
    return f"""<h2>Choosing k</h2>
<p>Rule: {_e(selection.rule)}. Chosen: <strong>k = {selection.chosen_k}</strong>
{f"(knee of the inertia curve at k = {selection.knee_k})" if selection.knee_k else ""}.</p>
{_votes(summary)}
{_structure(summary)}
{chart}
{_table(header, rows)}
{_split_tree_section(summary)}"""


def _split_tree_section(summary: TrainingSummary) -> str:
    """The clustree of the k range: what each k's segments become at the next k."""
    selection = summary.k_selection
    tree = selection.split_tree
    if tree is None:
        return ""
    change = runner_up_change(summary)
    runner_up = f"<p>Runner-up: {_e(change)}.</p>" if change else ""
    voted = _split_test_change(selection.voted_k, summary.k)
    votes = _votes_by_k(summary)
    rows = [
        [
            f"<strong>{level.k}</strong>" if level.k == summary.k else str(level.k),
            ", ".join(f"{size:,}" for size in level.sizes),
            _e(", ".join(votes.get(level.k, []))),
            "" if level.split_valley is None else f"{level.split_valley:.2f}",
            "" if level.split_distinct is None else "yes" if level.split_distinct else "no",
        ]
        for level in tree.levels
    ]
    return f"""<h3>What changes from one k to the next</h3>
<p>Each row of the tree is a k; each circle a segment, sized by its customers; each line the
customers a segment at k passes to one at k + 1 (lines of less than {NOTABLE_SHARE:.0%} of a
segment are left out). Counted on {tree.rows:,} customers; segment colours at the chosen
k = {summary.k} are the model's. Beside each k: the criteria that score it best, the deepest
density valley of a segment that K-Means divides at k + 1, and "distinct split" where the split
test counts that division as two segments (a valley, or two Gaussians on their line).</p>
{voted}{runner_up}
{_image(_split_tree_figure(summary), "split tree: how the segments at each k divide at the next k")}
{
        _table(
            [
                "k",
                "Customers per segment",
                "Best k by",
                "Split test valley to k + 1",
                "Divides into two distinct at k + 1",
            ],
            rows,
        )
    }"""


def _votes_by_k(summary: TrainingSummary) -> dict[int, list[str]]:
    named: dict[int, list[str]] = {}
    for name, k in (summary.k_selection.votes or {}).items():
        named.setdefault(k, []).append(CRITERION_LABELS.get(name, name))
    return named


def _split_test_change(voted_k: int | None, chosen_k: int) -> str:
    """What the split test changed from the vote's k, and why, for the split tree's section."""
    if voted_k is None or voted_k == chosen_k:
        return ""
    if chosen_k < voted_k:
        change = (
            f"took back a segment: at k = {voted_k} a segment and its nearest one are fitted "
            "better by one Gaussian than by two on the line that separates them best (a BIC gain "
            "below 0, as K-Means cut them and regrouped), the mark of one segment cut in two, and "
            "K-Means at the next k divides none of its segments into two distinct parts"
        )
    else:
        change = (
            f"added {segments_counted(chosen_k - voted_k)}: K-Means at the next k divides a "
            "segment into two distinct parts (a density valley between them, its floor below "
            f"{VALLEY_RATIO:.0%} of the lower peak, where two Gaussians fit them better than one; "
            f"or two Gaussians fitting them better than one, by more than {MIXTURE_GAIN} of BIC "
            f"per customer and {MIXTURE_EVIDENCE:g} in all, without heavy tails), or, past where "
            "such splits stop, every segment and its nearest one are two Gaussians by that measure "
            "at a k that the Calinski-Harabasz index scores nearly as well as its best"
        )
    return f"<p>The criteria's vote gave k = {voted_k}; the split test {change}.</p>"


def _votes(summary: TrainingSummary) -> str:
    votes = summary.k_selection.votes
    if not votes:
        return ""
    listed = ", ".join(f"{CRITERION_LABELS.get(name, name)} k = {k}" for name, k in votes.items())
    if summary.k_selection.structure == "none":
        taken = "no clear segments, so none of them is taken"
    else:
        selection = summary.k_selection
        taken = (
            f"k = {selection.chosen_k}, {how_chosen(votes, selection.voted_k, selection.chosen_k)}"
        )
    return f"<p>Best k by each criterion: {_e(listed)}; {_e(taken)}.</p>"


def _structure(summary: TrainingSummary) -> str:
    """In words: did any k show segments, and on what evidence."""
    selection = summary.k_selection
    test = selection.structure_test
    if selection.mode == "fixed":
        return "<p>Whether the data has segments at all was not tested (k fixed by the user).</p>"
    if test is None:
        return "<p>Too few rows to test whether the data has segments at all.</p>"
    gap = (
        f"gap statistic on a seeded sample of {test.sample_rows:,} rows: Gap(1) = "
        f"{test.gap_one:.3f}, Gap(2) = {test.gap_two:.3f}, s(2) = {test.gap_two_error:.3f}"
    )
    if selection.structure == "segments":
        reason = structure_evidence(test, found=True)
        return f"<p>Segments found: {reason} ({_e(gap)}).</p>"
    return f"""<p class="warning"><strong>No clear segments.</strong> {_e(selection.warning or "")}
({_e(gap)}).</p>"""


def _segments_section(summary: TrainingSummary, sample: pd.DataFrame) -> str:
    features = numeric_features(summary)
    charts = []
    if len(features) >= 2:
        charts.append(_image(scatter_figure(summary, sample), "segments in feature space"))
    if len(features) > 2:
        charts.append(
            _image(
                _projection_figure(summary, sample),
                "segments projected on the first two principal components",
            )
        )
    if features:
        charts.append(
            _image(_profile_figure(summary), "segment centroids compared feature by feature")
        )
    header = [
        "",
        "Id",
        "Name",
        "Customers",
        "Share",
        *[f"Centroid {_e(f)}" for f in features],
        "Levels",
        "Description",
        "Action",
    ]
    rows = []
    for p in summary.segments:
        swatch = _swatch(p.id, summary.k)
        name = _e(p.name) + (
            f"<br><small>auto: {_e(p.auto_name)}</small>" if p.name != p.auto_name else ""
        )
        rows.append(
            [
                swatch,
                str(p.id),
                name,
                f"{p.size:,}",
                f"{p.share:.1%}",
                *[f"{p.centroid[f]:.2f}" for f in features],
                _levels(p),
                _e(p.description or ""),
                _e(p.action or ""),
            ]
        )
    return f"""<h2>Segments</h2>
{"".join(charts)}
{_table(header, rows)}
<p class="note">Charts show a seeded sample of at most {REPORT_SAMPLE_ROWS:,} customers;
centroids are marked with a black-edged cross.</p>"""


def _changes_section(summary: TrainingSummary) -> str:
    """The segment ids' lineage and what changes for the training customers against the model
    this one was aligned to."""
    lineage = summary.lineage
    if lineage is None or lineage.aligned_to is None:
        return """<h2>What changes for customers</h2>
<p>No earlier model to compare with: the segments are numbered as K-Means found them.</p>"""
    intro = (
        f"<p>Segment ids follow version <strong>{_e(lineage.aligned_to)}</strong>: a segment whose "
        f"centre lies within {lineage.max_distance:g} standard deviations of one of its segments "
        "(by minimum-cost matching) keeps that segment's id, name and colour.</p>"
    )
    facts = [
        ("Kept", ", ".join(str(s.id) for s in lineage.segments if s.matched_id is not None)),
        ("New (ids never used before)", ", ".join(map(str, lineage.new))),
        ("Retired", ", ".join(map(str, lineage.retired))),
    ]
    rows = "".join(f"<tr><th>{label}</th><td>{text or 'none'}</td></tr>" for label, text in facts)
    note = f'<p class="warning">{_e(lineage.note)}</p>' if lineage.note else ""
    comparison = summary.comparison
    if comparison is None:
        return (
            f'<h2>What changes for customers</h2>{intro}{note}<table class="facts">{rows}</table>'
        )
    moves = "".join(f"<li>{_e(text)}</li>" for text in describe_moves(comparison))
    sizes = {p.id: p.size for p in summary.segments}
    # Before, After and Stayed count only the customers both models score; each segment's size
    # here counts every training customer, so both are shown, named apart, when they differ.
    partial = any(
        change.new_customers != sizes[change.id]
        for change in comparison.segments
        if change.id in sizes
    )
    shifts = [
        [
            _swatch(change.id, summary.k) if change.status != "retired" else "",
            str(change.id),
            _e(change.new_name or change.old_name or ""),
            change.status,
            f"{change.old_customers:,}",
            f"{change.new_customers:,}",
            f"{change.stayed:,}",
            *([f"{sizes[change.id]:,}" if change.id in sizes else ""] if partial else []),
            _e(format_shift(change.centroid_shift)),
        ]
        for change in comparison.segments
    ]
    compared = " (compared)" if partial else ""
    header = [
        "",
        "Id",
        "Name",
        "Status",
        f"Before{compared}",
        f"After{compared}",
        f"Stayed{compared}",
        *(["In this model"] if partial else []),
        "Centre shift (original units)",
    ]
    table_note = (
        f'<p class="note">Before, After and Stayed count only the {comparison.customers:,} '
        f"customers both models could score ({_e(comparison.data)}); In this model is each "
        "segment's size among all its training customers.</p>"
        if partial
        else ""
    )
    if comparison.left_out and comparison.customers:
        keep = (
            f"{comparison.kept:,} of the {comparison.customers:,} compared training customers "
            f"({comparison.kept_share:.1%})"
        )
        move = f"{comparison.moved:,} ({comparison.moved_share:.1%} of those compared)"
    elif comparison.left_out:
        keep = move = "not known: no training customer could be compared"
    else:
        keep = (
            f"{comparison.kept:,} of {comparison.customers:,} training customers "
            f"({comparison.kept_share:.1%})"
        )
        move = f"{comparison.moved:,} ({comparison.moved_share:.1%})"
    left_out = ""
    if comparison.left_out:
        total = comparison.customers + comparison.left_out
        left_out = (
            f"<tr><th>Not compared</th><td>{comparison.left_out:,} of {total:,} training "
            f"customers ({comparison.left_out / total:.1%}), {_e(describe_left_out(comparison))}."
            " The promotion gate (--max-moved) counts them as not keeping their segment.</td></tr>"
        )
    matrix = (
        _image(_transition_figure(comparison), TRANSITION_ALT)
        if comparison.customers
        else "<p>No transition matrix: no training customer could be compared.</p>"
    )
    return f"""<h2>What changes for customers</h2>
{intro}{note}
<table class="facts">{rows}
<tr><th>Keep their segment</th>
<td>{keep}</td></tr>
<tr><th>Move</th><td>{move}</td></tr>
{left_out}
</table>
{f"<ul>{moves}</ul>" if moves else ""}
{matrix}
{_table(header, shifts)}
{table_note}"""


TRANSITION_ALT = "transition matrix: customers per segment before and after"


def _transition_figure(comparison: Comparison) -> Figure:
    """A heat map of the transition matrix: rows the old segments, columns the new ones."""
    old_ids, new_ids, matrix = transition_matrix(comparison)
    names_before = {s.id: s.old_name or "" for s in comparison.segments}
    names_after = {s.id: s.new_name or "" for s in comparison.segments}
    figure, axis = plt.subplots(
        figsize=(2.2 + 1.1 * len(new_ids), 1.6 + 0.55 * len(old_ids)), layout="constrained"
    )
    shares = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    axis.imshow(shares, cmap="Blues", vmin=0, vmax=1, aspect="auto")
    for (row, column), count in np.ndenumerate(matrix):
        if count:
            dark = shares[row, column] > 0.6
            axis.text(
                column,
                row,
                f"{count:,}",
                ha="center",
                va="center",
                color="white" if dark else "black",
                fontsize="small",
            )
    axis.set_xticks(
        range(len(new_ids)),
        [f"{i}: {_short(names_after[i])}" for i in new_ids],
        rotation=30,
        ha="right",
        fontsize="small",
    )
    axis.set_yticks(
        range(len(old_ids)), [f"{i}: {_short(names_before[i])}" for i in old_ids], fontsize="small"
    )
    axis.set_xlabel("segment in this model")
    axis.set_ylabel(f"segment in {comparison.old_version}")
    figure.suptitle("Where the training customers go (shade: share of the old segment)")
    return figure


def _short(name: str, limit: int = 28) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "…"


def _stability_section(summary: TrainingSummary) -> str:
    stability = summary.stability
    if stability is None:
        return "<h2>Stability</h2><p>Not measured (--stability-samples 0).</p>"
    names = {p.id: p.name for p in summary.segments}
    rows = [
        [
            _swatch(s.id, summary.k),
            str(s.id),
            _e(names[s.id]),
            f"{s.mean_ari:.3f}",
            "low" if s.mean_ari < stability.segment_threshold else "ok",
        ]
        for s in stability.segments
    ]
    verdict = "low" if stability.mean_ari < stability.threshold else "ok"
    return f"""<h2>Stability</h2>
<p>The model was refitted on {stability.samples} seeded bootstrap samples of
{stability.sample_rows:,} customers. Mean adjusted Rand index against the final model:
<strong>{stability.mean_ari:.3f}</strong> ({verdict}; warning below {stability.threshold}).
Per segment, membership against the refit's matching segment (warning below
{stability.segment_threshold}):</p>
{_table(["", "Id", "Name", "Mean ARI", ""], rows)}"""


# -- figures ---------------------------------------------------------------------------------


def _k_figure(summary: TrainingSummary) -> Figure:
    selection = summary.k_selection
    table = selection.table
    ks = [s.k for s in table]
    panels: list[tuple[str, list[float | None]]] = [
        ("Inertia (lower is tighter)", [s.inertia for s in table]),
        ("Silhouette (higher is better)", [s.silhouette for s in table]),
        ("Calinski-Harabasz (higher is better)", [s.calinski_harabasz for s in table]),
        ("Davies-Bouldin (lower is better)", [s.davies_bouldin for s in table]),
    ]
    figure, axes = plt.subplots(2, 2, figsize=(10, 7), layout="constrained")
    for axis, (title, values) in zip(axes.flat, panels, strict=True):
        y = [np.nan if v is None else float(v) for v in values]
        axis.plot(ks, y, marker="o", color="#3b6ea5")
        axis.axvline(
            selection.chosen_k,
            color="#2a9d4b",
            linestyle="-",
            linewidth=2,
            label=f"chosen k = {selection.chosen_k}",
        )
        axis.set_title(title)
        axis.set_xlabel("k (number of segments)")
        axis.set_xticks(ks)
        axis.grid(alpha=0.3)
    votes = selection.votes or {}
    for axis, name in zip(
        axes.flat[1:], ("silhouette", "calinski_harabasz", "davies_bouldin"), strict=True
    ):
        if name in votes:
            row = table[ks.index(votes[name])]
            axis.plot(
                [votes[name]],
                [getattr(row, name)],
                marker="*",
                markersize=16,
                color="#e07b00",
                linestyle="none",
                label=f"best by this criterion: k = {votes[name]}",
            )
        axis.legend(loc="best", fontsize="small")
    inertia_axis = axes.flat[0]
    if selection.knee_k is not None:
        knee_value = table[ks.index(selection.knee_k)].inertia
        inertia_axis.plot(
            [selection.knee_k],
            [knee_value],
            marker="*",
            markersize=18,
            color="#e07b00",
            linestyle="none",
            label=f"knee at k = {selection.knee_k}",
        )
    inertia_axis.legend(loc="upper right")
    figure.suptitle(
        "Choosing the number of segments"
        + (
            " (no clear segments: the chosen k is an arbitrary cut)"
            if selection.structure == "none"
            else ""
        )
    )
    return figure


def _split_tree_figure(summary: TrainingSummary) -> Figure:
    tree = summary.k_selection.split_tree
    assert tree is not None
    levels = tree.levels
    positions: dict[int, np.ndarray] = {}
    for index, level in enumerate(levels):
        if index == 0:
            order = np.arange(level.k, dtype=float)
        else:
            # Each segment under the customers' weighted mean position above, to spare crossings.
            above = levels[index - 1]
            weight, total = np.zeros(level.k), np.zeros(level.k)
            for flow in above.flows:
                weight[flow.target] += flow.customers * positions[above.k][flow.source]
                total[flow.target] += flow.customers
            order = np.argsort(np.argsort(weight / np.maximum(total, 1)))
        positions[level.k] = (order + 0.5) / level.k
    votes = _votes_by_k(summary)
    figure, axis = plt.subplots(figsize=(10, 0.8 * len(levels) + 1.5), layout="constrained")
    biggest = max(max(level.sizes) for level in levels) or 1
    for level in levels:
        for flow in level.flows:
            if flow.share < NOTABLE_SHARE:
                continue
            below = level.k + 1
            axis.plot(
                [positions[level.k][flow.source], positions[below][flow.target]],
                [level.k, below],
                color="#3b6ea5",
                alpha=0.25 + 0.6 * flow.share,
                linewidth=0.5 + 8.0 * flow.customers / tree.rows,
                zorder=1,
            )
        chosen = level.k == summary.k
        colours = [
            segment_colour(segment, summary.k) if chosen else (0.6, 0.6, 0.6, 1.0)
            for segment in (summary.segment_ids if chosen else range(level.k))
        ]
        axis.scatter(
            positions[level.k],
            [level.k] * level.k,
            s=[40 + 600 * size / biggest for size in level.sizes],
            color=colours,
            edgecolors="black" if chosen else "none",
            zorder=2,
        )
        note = ", ".join(votes.get(level.k, []))
        if level.split_valley is not None and level.split_valley < 1.0:
            note += ("; " if note else "") + f"split valley {level.split_valley:.2f}"
        if level.split_distinct:
            note += ("; " if note else "") + "distinct split"
        axis.text(1.02, level.k, note, va="center", fontsize="small")
        if chosen:
            axis.axhspan(level.k - 0.4, level.k + 0.4, color="#2a9d4b", alpha=0.12, zorder=0)
    axis.set_yticks([level.k for level in levels])
    axis.set_yticklabels(
        [f"k = {level.k}" + (" (chosen)" if level.k == summary.k else "") for level in levels]
    )
    axis.set_ylim(levels[-1].k + 0.6, levels[0].k - 0.6)
    axis.set_xlim(0.0, 1.45)
    axis.set_xticks([])
    for side in ("top", "right", "bottom"):
        axis.spines[side].set_visible(False)
    axis.set_title(
        "How segments split from each k to the next (right: the criteria's best k, the split test)"
    )
    return figure


def scatter_figure(summary: TrainingSummary, sample: pd.DataFrame) -> Figure:
    """The segments in every pair of numeric features, centroids marked (the report and the
    docs)."""
    features = numeric_features(summary)
    pairs = [(x, y) for i, x in enumerate(features) for y in features[i + 1 :]]
    columns = min(3, len(pairs))
    rows = -(-len(pairs) // columns)
    figure, axes = plt.subplots(
        rows,
        columns,
        figsize=(5.2 * columns, 4.6 * rows + 1.2),
        layout="constrained",
        squeeze=False,
    )
    for axis, (x, y) in zip(axes.flat, pairs, strict=False):
        _draw_segments(
            axis,
            summary,
            sample[x].to_numpy(),
            sample[y].to_numpy(),
            sample[SEGMENT_COLUMN].to_numpy(),
            [(p.centroid[x], p.centroid[y]) for p in summary.segments],
        )
        axis.set_xlabel(axis_label(summary, x))
        axis.set_ylabel(axis_label(summary, y))
    for axis in list(axes.flat)[len(pairs) :]:
        axis.set_visible(False)
    _legend(figure, summary)
    figure.suptitle("Segments in feature space")
    return figure


def _projection_figure(summary: TrainingSummary, sample: pd.DataFrame) -> Figure:
    features = numeric_features(summary)
    stats = summary.feature_stats

    def standardise(values: np.ndarray) -> np.ndarray:
        means = np.array([stats[f].mean for f in features])
        stds = np.array([stats[f].std or 1.0 for f in features])
        standardised: np.ndarray = (values - means) / stds
        return standardised

    points = standardise(sample[features].to_numpy(dtype=float))
    pca = PCA(n_components=2, random_state=summary.seed).fit(points)
    projected = pca.transform(points)
    centres = pca.transform(
        standardise(np.array([[p.centroid[f] for f in features] for p in summary.segments]))
    )
    figure, axis = plt.subplots(figsize=(10, 7.5), layout="constrained")
    _draw_segments(
        axis,
        summary,
        projected[:, 0],
        projected[:, 1],
        sample[SEGMENT_COLUMN].to_numpy(),
        centres.tolist(),
    )
    explained = pca.explained_variance_ratio_
    axis.set_xlabel(f"Principal component 1 ({explained[0]:.0%} of variance)")
    axis.set_ylabel(f"Principal component 2 ({explained[1]:.0%} of variance)")
    _legend(figure, summary, columns=2)
    figure.suptitle("Segments projected on two dimensions (PCA of the scaled features)")
    return figure


def _profile_figure(summary: TrainingSummary) -> Figure:
    features = numeric_features(summary)
    segments = summary.segments
    figure, axes = plt.subplots(
        1,
        len(features),
        figsize=(4.2 * len(features), 0.55 * len(segments) + 2.4),
        layout="constrained",
        squeeze=False,
    )
    positions = np.arange(len(segments))
    for axis, feature in zip(axes.flat, features, strict=True):
        values = [p.centroid[feature] for p in segments]
        axis.barh(positions, values, color=[segment_colour(p.id, summary.k) for p in segments])
        axis.axvline(
            summary.feature_stats[feature].mean,
            color="black",
            linestyle="--",
            linewidth=1,
            label="all customers",
        )
        axis.set_title(axis_label(summary, feature))
        axis.set_yticks(positions, [str(p.id) for p in segments])
        axis.set_ylabel("segment id")
        axis.invert_yaxis()
        axis.grid(axis="x", alpha=0.3)
    _legend(figure, summary)
    figure.suptitle("Segment centroids, feature by feature (dashed: the whole population)")
    return figure


def _draw_segments(
    axis: Axes,
    summary: TrainingSummary,
    x: np.ndarray,
    y: np.ndarray,
    labels: np.ndarray,
    centres: Sequence[Sequence[float]],
) -> None:
    for profile, (cx, cy) in zip(summary.segments, centres, strict=True):
        colour = segment_colour(profile.id, summary.k)
        mask = labels == profile.id
        axis.scatter(x[mask], y[mask], s=10, alpha=0.55, color=colour, linewidths=0)
        axis.scatter(
            [cx],
            [cy],
            s=220,
            marker="X",
            color=colour,
            edgecolors="black",
            linewidths=1.5,
            zorder=3,
        )
    axis.grid(alpha=0.3)


def _legend(figure: Figure, summary: TrainingSummary, columns: int = 3) -> None:
    handles = [
        Line2D(
            [],
            [],
            marker="o",
            linestyle="none",
            markersize=9,
            color=segment_colour(p.id, summary.k),
            label=f"{p.id}: {p.name}",
        )
        for p in summary.segments
    ]
    figure.legend(
        handles=handles,
        loc="outside lower center",
        ncols=min(columns, len(handles)),
        fontsize="small",
        frameon=False,
    )


# -- HTML helpers ----------------------------------------------------------------------------


def _image(figure: Figure, alt: str) -> str:
    """The figure as an embedded PNG of 100 dpi, drawn once.

    ``savefig`` draws a figure that has a layout engine twice, the first time only to lay it
    out; the Agg canvas's own ``print_png`` lays it out and renders it in one draw, to the same
    pixels, in about 15% less time (text and tick layout are most of a draw).
    """
    figure.set_dpi(100)
    buffer = io.BytesIO()
    FigureCanvasAgg(figure).print_png(buffer, metadata={"Software": None})  # type: ignore[no-untyped-call]
    plt.close(figure)
    encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<figure><img alt="{_e(alt)}" src="data:image/png;base64,{encoded}"></figure>'


def _table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{h}</th>" for h in header)
    body = "\n".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>\n{body}\n</tbody></table>"


def _swatch(segment_id: int, k: int) -> str:
    r, g, b, _ = segment_colour(segment_id, k)
    return (
        f'<span class="swatch" style="background: rgb({r * 255:.0f}, {g * 255:.0f}, '
        f'{b * 255:.0f})"></span>'
    )


def _levels(profile: SegmentProfile) -> str:
    """Each categorical column's level shares (older bundles: their gender mix)."""
    levels = profile.levels or ({"gender": profile.gender_mix} if profile.gender_mix else {})
    if not levels:
        return "n/a"
    return "<br>".join(
        f"{_e(name)}: " + ", ".join(f"{_e(level)} {s.share:.0%}" for level, s in shares.items())
        for name, shares in levels.items()
    )


def _num(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}"


def _e(text: str) -> str:
    return html.escape(text, quote=True)


_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Customer segmentation model report</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; color: #222; }}
table {{ border-collapse: collapse; margin: 0.8rem 0; }}
th, td {{ border: 1px solid #ccc; padding: 0.3rem 0.6rem; text-align: left; vertical-align: top; }}
thead th {{ background: #f2f2f2; }}
table.facts th {{ background: #f7f7f7; width: 14rem; }}
figure {{ margin: 1rem 0; }}
img {{ max-width: 100%; }}
.swatch {{ display: inline-block; width: 1rem; height: 1rem; border-radius: 50%; }}
.warning {{ background: #fff3cd; border: 1px solid #e0b000; padding: 0.6rem; }}
.note {{ color: #555; font-size: 0.9rem; }}
</style>
</head>
<body>
{body}
</body>
</html>
"""
