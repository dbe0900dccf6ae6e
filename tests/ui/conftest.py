"""The page's browser tests share these: Debian's Chromium driven by Playwright, real servers
started on free ports, and a watch on what the page did (console errors, failed requests,
error answers, and every API call it made with its headers)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Request, sync_playwright

from segmentation.sources import DataSource
from tests.conftest import REPO_ROOT, SAMPLE_CSV
from tests.real_server import ServerProcess, start_server
from training.train import TrainingOptions, train

CHROMIUM = "/usr/bin/chromium"
# As root (CI) Chromium needs --no-sandbox; the network flags keep it from calling home.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]
SCREENSHOTS = Path(os.environ.get("UI_SCREENSHOTS_DIR", REPO_ROOT / "test-artifacts"))
# The page's words for the study's features (its schema's names and units).
LABELS = {
    "age": "Age (years)",
    "annual_income": "Annual income (k$)",
    "spending_score": "Spending score",
}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make browser-deps` (Debian's chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def serve(models: Path, folder: Path, **env: str) -> Iterator[str]:
    """A real server on ``models``; after the tests its output must hold no traceback."""
    server: ServerProcess = start_server(models, folder / "server.log", **env)
    try:
        server.wait_for()
        yield server.url
    finally:
        output = server.stop()
        assert "Traceback" not in output, output[-3000:]


def train_and_serve(folder: Path, data: Path, **options: object) -> Iterator[str]:
    """A model trained on ``data`` into ``folder`` (no stability refits unless asked), served."""
    settings: dict[str, object] = {"stability_samples": 0, **options}
    source = DataSource(str(data))
    train(TrainingOptions(source=source, models_dir=folder / "models", **settings))  # type: ignore[arg-type]
    yield from serve(folder / "models", folder)


@pytest.fixture(scope="module")
def auto_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A model whose k training chose (``--k auto``) on the project's sample customers."""
    yield from train_and_serve(
        tmp_path_factory.mktemp("ui-auto"), SAMPLE_CSV, k=None, k_range=(2, 7)
    )


@pytest.fixture(scope="module")
def url(trained_models: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from serve(trained_models, tmp_path_factory.mktemp("ui"))


class Watched:
    """Console errors, failed requests and error answers seen while a page was open, and the
    page's calls to the API (path, query and headers)."""

    def __init__(self, page: Page) -> None:
        self.problems: list[str] = []
        self.api_calls: list[Request] = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        page.on("requestfailed", self._failed)
        page.on("request", self._request)
        page.on(
            "response",
            lambda r: self.problems.append(f"{r.status} {r.url}") if r.status >= 400 else None,
        )

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.problems.append(f"console: {message.text}")

    def _failed(self, request: Request) -> None:
        self.problems.append(f"failed: {request.url} {request.failure}")

    def _request(self, request: Request) -> None:
        path = urlsplit(request.url).path
        if request.url.startswith("http") and not path.startswith("/ui") and path != "/favicon.ico":
            self.api_calls.append(request)

    def only_refusals(self, *statuses: int) -> bool:
        """True when the API's expected refusals (and the browser logging them) were all."""
        allowed = [str(status) for status in statuses]
        return bool(self.problems) and all(
            any(status in problem for status in allowed) for problem in self.problems
        )

    def pinned_versions(self) -> list[tuple[str, str | None]]:
        """Each call's path with the version it pinned (None when it pinned none)."""
        pinned = []
        for request in self.api_calls:
            parts = urlsplit(request.url)
            pinned.append((parts.path, parse_qs(parts.query).get("version", [None])[0]))
        return pinned


def open_page(
    browser: Browser, url: str, width: int = 1280, path: str = "/ui"
) -> tuple[Page, Watched]:
    page = browser.new_page(viewport={"width": width, "height": 900}, accept_downloads=True)
    watched = Watched(page)
    page.goto(f"{url}{path}")
    return page, watched
