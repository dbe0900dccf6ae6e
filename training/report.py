"""Step 4 of training: a Markdown report a person reads before trusting the model."""

from __future__ import annotations

from segmentation.bundle import TrainingSummary


def render_report(summary: TrainingSummary) -> str:
    features = summary.features
    metrics = summary.metrics
    silhouette = "undefined" if metrics.silhouette is None else f"{metrics.silhouette:.3f}"
    if metrics.silhouette_sample_size:
        silhouette += f" (on a seeded sample of {metrics.silhouette_sample_size} rows)"
    lines = [
        "# Customer segmentation model",
        "",
        "## Data",
        "",
        f"- Source: `{summary.training_data.source}`",
        f"- sha256: `{summary.training_data.sha256}`",
        f"- Rows used: {summary.training_data.rows}",
        f"- Features: {', '.join(features)} (standard-scaled)",
        "",
        "## Fit",
        "",
        f"- k = {summary.k}, seed = {summary.seed}",
        f"- Inertia (scaled units): {metrics.inertia:.3f}",
        f"- Silhouette: {silhouette}",
        "",
        "## Segments",
        "",
        "| id | name | size | share | "
        + " | ".join(f"centroid {f}" for f in features)
        + " | gender mix |",
        "|---|---|---|---|" + "---|" * len(features) + "---|",
    ]
    for profile in summary.segments:
        centroid = " | ".join(f"{profile.centroid[f]:.2f}" for f in features)
        mix = (
            ", ".join(f"{g} {s.share:.0%}" for g, s in profile.gender_mix.items())
            if profile.gender_mix
            else "n/a"
        )
        lines.append(
            f"| {profile.id} | {profile.name} | {profile.size} | {profile.share:.1%} | "
            f"{centroid} | {mix} |"
        )
    return "\n".join(lines) + "\n"
