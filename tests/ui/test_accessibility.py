"""axe-core's audit of the page (WCAG 2.1 A and AA rules and best practices) at desktop and phone
widths, with a customer tried, the map's popover open and its table view shown: no violation."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import axe_playwright_python
import pytest
from playwright.sync_api import Browser, Page

from tests.ui.conftest import Watched

pytestmark = pytest.mark.e2e

# axe-core as the axe-playwright-python package ships it (a dev dependency, pinned).
AXE = Path(axe_playwright_python.__file__).parent / "axe.min.js"


def violations(page: Page) -> list[str]:
    found = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".map(v => v.id + ': ' + v.help + ' '"
        " + v.nodes.map(n => n.target.join(' ')).slice(0, 3).join(', '))"
    )
    return list(found)


@contextmanager
def audited(browser: Browser, url: str, width: int, ready: str) -> Iterator[Page]:
    """The page at ``width`` once ``ready`` shows, with axe-core injected; no console error,
    failed request or error answer by the end."""
    # The audit's script is injected, which the page's own CSP rightly forbids: bypassed here only.
    context = browser.new_context(viewport={"width": width, "height": 900}, bypass_csp=True)
    page = context.new_page()
    watched = Watched(page)
    page.goto(f"{url}/ui")
    page.wait_for_selector(ready)
    try:
        page.add_script_tag(path=str(AXE))
        yield page
        assert watched.problems == []
    finally:
        context.close()


@pytest.mark.parametrize("width", [1280, 390])
def test_the_page_passes_the_axe_core_audit(browser: Browser, url: str, width: int) -> None:
    with audited(browser, url, width, "g.point") as page:
        assert violations(page) == []
        page.fill("#try-age", "30")
        page.fill("#try-annual_income", "900")
        page.fill("#try-spending_score", "99")
        page.click("#try-form button")
        page.wait_for_selector("#try-segment")
        page.locator("g.point").first.focus()
        page.locator("#map-popover").wait_for()
        assert violations(page) == []
        page.click("#map-as-table")
        assert violations(page) == []


@pytest.mark.parametrize("width", [1280, 390])
def test_how_k_was_chosen_passes_it_too_for_a_model_that_chose_k(
    browser: Browser, auto_url: str, width: int
) -> None:
    """The k table of an automatic k is six columns wide and the split tree wider still: at
    phone width both scroll, and a scrolling region must be reachable from the keyboard; the
    tree in words and the rule's full wording unfold."""
    with audited(browser, auto_url, width, "#k-tree .tree-segment") as page:
        assert violations(page) == []
        page.locator("#k-steps-details summary").click()
        page.locator("#k-rule-details summary").click()
        assert violations(page) == []
