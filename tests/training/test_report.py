"""The HTML report: self-contained, with readable images and every table a reader needs."""

from __future__ import annotations

import base64
import re
import struct
from html.parser import HTMLParser
from pathlib import Path

import pytest

from segmentation.bundle import Bundle
from segmentation.metadata import REPORT_FILE, REPORT_SAMPLE_FILE
from tests.conftest import SAMPLE_CSV, TrainFn


class ReportParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.images: list[tuple[str, bytes]] = []
        self.headings: list[str] = []
        self.cells: list[str] = []
        self.links: list[str] = []
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "img":
            source = values.get("src") or ""
            assert source.startswith("data:image/png;base64,"), "images must be embedded"
            self.images.append((values.get("alt") or "", base64.b64decode(source.split(",", 1)[1])))
        if tag in {"link", "script"}:
            self.links.append(tag)
        if tag in {"h1", "h2", "h3", "td", "th"}:
            self._in = tag

    def handle_data(self, data: str) -> None:
        if self._in in {"h1", "h2", "h3"}:
            self.headings.append(data.strip())
        elif self._in in {"td", "th"}:
            self.cells.append(data.strip())

    def handle_endtag(self, tag: str) -> None:
        self._in = None


def parse(bundle: Bundle) -> tuple[ReportParser, str]:
    text = (bundle.path / REPORT_FILE).read_text(encoding="utf-8")
    parser = ReportParser()
    parser.feed(text)
    return parser, text


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


@pytest.fixture
def auto_bundle(train_into: TrainFn) -> Bundle:
    return train_into(data=SAMPLE_CSV, k=None, k_range=(2, 7), stability_samples=3)


def test_report_has_every_chart_embedded(auto_bundle: Bundle) -> None:
    parser, _ = parse(auto_bundle)
    alts = [alt for alt, _ in parser.images]
    assert alts == [
        "k-selection curves: inertia with the knee, silhouette, Calinski-Harabasz and "
        "Davies-Bouldin for every k",
        "split tree: how the segments at each k divide at the next k",
        "segments in feature space",
        "segments projected on the first two principal components",
        "segment centroids compared feature by feature",
    ]
    for _, data in parser.images:
        width, height = png_size(data)
        assert width >= 700
        assert height >= 400
        assert len(data) > 20_000  # a real chart, not an empty canvas
    assert parser.links == []  # nothing to fetch: the file stands alone


def test_report_tables(auto_bundle: Bundle) -> None:
    parser, text = parse(auto_bundle)
    metadata = auto_bundle.metadata
    assert parser.headings[:1] == ["Customer segmentation model"]
    assert {"Data", "Choosing k", "Segments", "Stability", "Rejected rows and why"} <= set(
        parser.headings
    )
    for profile in metadata.segments:
        assert profile.name in parser.cells
        assert f"{profile.share:.1%}" in parser.cells
        assert f"{profile.centroid['annual_income']:.2f}" in parser.cells
    for row in metadata.k_selection.table:
        assert f"{row.inertia:,.2f}" in parser.cells
    assert f"{metadata.data_quality.rows_read:,}" in parser.cells
    assert "No invalid rows." in text
    assert metadata.stability is not None
    assert f"{metadata.stability.mean_ari:.3f}" in text
    for segment in metadata.stability.segments:
        assert f"{segment.mean_ari:.3f}" in parser.cells
    assert re.search(r"Female \d+%, Male \d+%", text)


def test_two_features_need_no_projection(train_into: TrainFn) -> None:
    bundle = train_into(features=("annual_income", "spending_score"), k=4)
    parser, text = parse(bundle)
    alts = [alt for alt, _ in parser.images]
    assert alts == ["segments in feature space", "segment centroids compared feature by feature"]
    assert "k was fixed by the user" in text
    assert "Not measured (--stability-samples 0)" in text


def test_rejected_rows_are_reported(train_into: TrainFn, tmp_path: Path) -> None:
    data = tmp_path / "dirty.csv"
    data.write_text(SAMPLE_CSV.read_text() + "999,Male,abc,20,30\n1000,Male,30,20,500\n")
    bundle = train_into(data=data, k=4, drop_invalid=True)
    parser, _ = parse(bundle)
    assert "not a number" in parser.cells
    assert "outside the valid range 1 to 100" in parser.cells
    assert "401: abc" in parser.cells
    assert "2" in parser.cells  # rows rejected


def test_an_unstable_model_is_flagged_at_the_top(
    train_into: TrainFn, monkeypatch: pytest.MonkeyPatch
) -> None:
    from training import stability

    monkeypatch.setattr(stability, "LOW_ARI", 1.01)
    bundle = train_into(k=4, stability_samples=2)
    _, text = parse(bundle)
    assert '<p class="warning">Warning: the segmentation is unstable' in text
    assert (bundle.path / REPORT_SAMPLE_FILE).is_file()


def test_names_are_escaped(train_into: TrainFn, tmp_path: Path) -> None:
    names = tmp_path / "names.yaml"
    names.write_text("segments:\n  0:\n    name: <b>Bold & co</b>\n")
    _, text = parse(train_into(k=3, names_file=names))
    assert "&lt;b&gt;Bold &amp; co&lt;/b&gt;" in text
    assert "<b>Bold" not in text
