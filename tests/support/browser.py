"""Driving the Prefect UI in headless Chromium (Debian's `chromium`, through the pinned `playwright` with
`executable_path`: no browser download): the browser found (or the calling test module skipped), a page whose
requests beyond loopback are aborted and listed, and what an operator does on it, step by step, with screenshots."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.support.paths import ROOT

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = Path(os.environ.get("SPOTDRAFT_UI_SCREENSHOTS") or ROOT / "test-artifacts" / "ui")
# The flags Chromium needs on a closed network (no background calls home) and as root (no sandbox).
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
                 "--disable-background-networking", "--disable-component-update"]
ACTED_WITHIN = 10.0  # seconds: a form's Submit the page has not acted on by then is clicked again


def skip_without_chromium() -> None:
    """Skip the calling test module when Chromium is missing (an error where CI requires the browser)."""
    if not Path(CHROMIUM).exists():
        if os.environ.get("SPOTDRAFT_REQUIRE_BROWSER"):
            raise RuntimeError(f"SPOTDRAFT_REQUIRE_BROWSER is set but Chromium is missing ({CHROMIUM}): "
                               "apt-get install chromium")
        pytest.skip("Chromium is not installed (apt-get install chromium); CI requires it", allow_module_level=True)


@contextlib.contextmanager
def loopback_page() -> Iterator[tuple]:
    """A Chromium page; requests beyond loopback are aborted and listed. Yields (page, aborted URLs)."""
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    aborted: list[str] = []

    def only_loopback(route):
        url = route.request.url
        if url.startswith(("data:", "blob:")) or urlsplit(url).hostname in ("127.0.0.1", "localhost"):
            return route.continue_()
        aborted.append(url)
        return route.abort()

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        context = chromium.new_context(viewport={"width": 1440, "height": 1000})
        context.set_default_timeout(30_000)
        context.route("**/*", only_loopback)
        page = context.new_page()
        try:
            yield page, aborted
        finally:
            context.unroute_all(behavior="ignoreErrors")
            context.close()
            chromium.close()


class Operator:
    """What the operator does in the UI, one step at a time, with a screenshot of what they saw."""

    def __init__(self, page, ui: str):
        self.page, self.ui, self.step = page, ui, "start"

    def pause(self, seconds: float) -> None:
        """Wait while Playwright keeps serving the page: its requests pass through our route handler,
        which only runs inside Playwright calls (a time.sleep here would hold every request)."""
        self.page.wait_for_timeout(seconds * 1000)

    def open(self, path: str, ready: str) -> None:
        """Go to a page and wait for an element that only the loaded page has (not for network idle)."""
        self.page.goto(self.ui + path)
        self.page.locator(ready).first.wait_for()

    def open_tab(self, flow_run_id, tab: str, ready: str) -> None:
        self.open(f"/runs/flow-run/{flow_run_id}", "text=Logs")
        self.page.locator("li.p-tab", has_text=re.compile(rf"^\s*{re.escape(tab)}\s*$")).first.click()
        self.page.locator(ready).first.wait_for()

    def shot(self, name: str, tall: bool = False) -> Path:
        """A screenshot of the page; `tall` for a dialog, whose own scrolling a full-page shot misses."""
        path = SHOTS / f"{name}.png"
        self.pause(0.8)  # the UI fades content in after navigation: a shot taken at once is dimmed
        size = self.page.viewport_size
        if tall:
            self.page.set_viewport_size({"width": size["width"], "height": 2400})
        try:
            self.page.screenshot(path=str(path), full_page=True)
        finally:
            self.page.set_viewport_size(size)
        return path

    def submit_run_form(self, timeout: float = 90) -> None:
        """Submit a deployment's run form and wait for the UI's answer: it posts create_flow_run and goes
        back to the deployment's page. An error toast or a field marked invalid fails with its text. A click
        the page did not act on (no post within ACTED_WITHIN seconds, seen once on a loaded CI machine) is
        repeated: no run was asked for, so a second click cannot make two."""
        posted = []

        def note(request):
            if request.method == "POST" and request.url.endswith("/create_flow_run"):
                posted.append(request.url)

        form_url = self.page.url
        submit = self.page.get_by_role("button", name="Submit", exact=True)
        self.page.on("request", note)
        try:
            submit.click()
            clicked = started = time.monotonic()
            while self.page.url == form_url:
                failed = self._form_errors()
                assert not failed, f"the run form was refused: {failed}"
                now = time.monotonic()
                assert now - started < timeout, (
                    f"the run form stayed open {timeout:.0f}s after Submit "
                    f"({len(posted)} create_flow_run posts); the page says: {self.page.inner_text('body')[:600]!r}")
                if not posted and now - clicked > ACTED_WITHIN:
                    submit.click()
                    clicked = now
                self.pause(0.25)
        finally:
            self.page.remove_listener("request", note)

    def _form_errors(self) -> list[str]:
        """The texts of error toasts and of fields marked invalid on the page."""
        toasts = self.page.locator(".p-toast-container__toast", has=self.page.locator(".p-toast__icon--error"))
        fields = self.page.locator(".p-label__message--failed")
        return [t.strip() for t in toasts.all_inner_texts() + fields.all_inner_texts() if t.strip()]

    def field(self, title: str, within=None):
        """The form field titled `title`: the innermost labelled block around that title, so that a
        field inside a list of objects is not taken for the list."""
        return self.fields(title, within).last

    def fields(self, title: str, within=None):
        exactly = re.compile(rf"^\s*{re.escape(title)}( \(Optional\))?\s*$")
        labels = (within or self.page).locator(".p-label__label", has_text=exactly)
        return labels.locator("xpath=ancestor::div[contains(concat(' ', @class, ' '), ' p-label ')][1]")

    def type_into(self, title: str, text: str) -> None:
        self.field(title).locator("input, textarea").first.fill(text)

    def type_json(self, title: str, value) -> None:
        """Paste `value` into a field's JSON editor (a code box over a textarea)."""
        self.field(title).locator("textarea").first.fill(json.dumps(value, indent=2))

    def choose(self, field, option: str) -> None:
        """Pick `option` in a field's drop-down. It opens from the keyboard (Space): headless, a
        mouse click on it toggles it open and shut again."""
        control = field.locator(".p-select-button__control").first
        control.focus()
        self.page.keyboard.press("Space")
        self.page.get_by_role("option", name=option, exact=True).click()
        assert control.inner_text().strip() == option
