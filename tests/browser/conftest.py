"""The web wallet in a real headless Chromium (Debian's `chromium`, installed by `make test`),
driven by Playwright from Python against the same local stack as the e2e tests.

Every screen a test visits is saved as a PNG under `build/screenshots/<test>/` (or
`$SCREENSHOTS_DIR`) for a person to review.
"""
from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Locator,
    Page,
    Playwright,
    Response,
    ViewportSize,
    expect,
    sync_playwright,
)

from tests.conftest import ROOT
from tests.outbox import last_code

PASSWORD = "correct horse battery staple 42"
# A phone-sized screen: the wallet must work there first.
PHONE = ViewportSize(width=390, height=844)
SLOW = 30_000  # ms: the first calls warm up the local API's workers


def chromium_path() -> str:
    for candidate in (os.environ.get("CHROMIUM"), "/usr/lib/chromium/chromium", shutil.which("chromium")):
        if candidate and Path(candidate).exists():
            return candidate
    raise RuntimeError("Debian's chromium is not installed: `make test` or `make browser` installs it (apt-get)")


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=chromium_path(), headless=True, args=["--no-sandbox"])
    yield browser
    browser.close()


@pytest.fixture(scope="session", autouse=True)
def _patient() -> None:
    expect.set_options(timeout=SLOW)


class Person:
    """One person at their own browser (a separate context: separate memory, separate tokens)."""

    def __init__(self, context: BrowserContext, stack: dict[str, str], shots: Path, name: str) -> None:
        self.context, self.web_url, self.shots, self.name = context, stack["WEB_URL"], shots, name
        self.aws_endpoint = stack["AWS_ENDPOINT"]
        self.page: Page = context.new_page()
        self.page.set_default_timeout(SLOW)
        self.errors: list[str] = []
        self.page.on("pageerror", lambda err: self.errors.append(str(err)))
        # The page's Content-Security-Policy must allow everything the wallet really does.
        self.page.on("console", self._blocked)
        self.page.on("response", self._server_error)
        self.email = f"{name.lower()}.{uuid.uuid4().hex[:8]}@example.com"
        self.count = 0

    def _blocked(self, message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            self.errors.append(message.text)

    def _server_error(self, response: Response) -> None:
        if response.status >= 500:  # no screen of the journey may ever meet a 5xx
            self.errors.append(f"{response.status} {response.request.method} {response.url}")

    def open(self, route: str) -> Page:
        self.page.goto(f"{self.web_url}/#/{route}")
        return self.page

    def nav(self, link: str) -> Page:
        target = self.page.get_by_role("navigation", name="Main").get_by_role("link", name=re.compile(f"^{link}"))
        target.click()
        expect(target).to_have_attribute("aria-current", "page")  # the new screen, not the old one's heading
        return self.page

    def status(self, text: str) -> Locator:
        """A confirmation in the screen itself (not the toast of a live notice)."""
        return self.page.locator("main").get_by_role("status").filter(has_text=text)

    def shot(self, what: str) -> None:
        self.count += 1
        self.page.screenshot(path=str(self.shots / f"{self.name.lower()}-{self.count:02d}-{what}.png"), full_page=True)

    def sign_up(self, first: str, last: str, *, phone: str | None = None, verify: bool = True) -> None:
        """Create the account; the wallet then opens on its verify screen, before anything else:
        with `verify`, the e-mail's code (read from the local outbox) is typed back there."""
        page = self.open("signup")
        page.get_by_label("First name").fill(first)
        page.get_by_label("Last name").fill(last)
        page.get_by_label("E-mail").fill(self.email)
        if phone:
            page.get_by_label("Phone (optional)").fill(phone)
        page.get_by_label("Password").fill(PASSWORD)
        self.shot("sign-up")
        page.get_by_role("button", name="Create account").click()
        expect(page.locator("h1")).to_have_text("Verify your e-mail")
        expect(page).to_have_url(re.compile(r"#/verify$"))
        if verify:
            self.verify_contact("email")
            expect(page.locator("h1")).to_have_text(f"Hello, {first}")
            expect(page.get_by_test_id("live-state")).to_have_text("Live")

    def verify_contact(self, channel: str, address: str | None = None) -> None:
        """On the verify screen (or Security): send a code to the e-mail or phone, type it back."""
        page = self.page
        box = page.get_by_test_id(f"contact-{channel}")
        box.get_by_role("button", name="Send me a code").click()
        expect(box.get_by_role("status")).to_contain_text("We sent a 6-digit code")
        label = "e-mail" if channel == "email" else "phone"
        box.get_by_label(f"Code sent to your {label}").fill(last_code(self.aws_endpoint, address or self.email))
        self.shot(f"verify-{channel}")
        box.get_by_role("button", name="Verify", exact=True).click()

    def sign_in(self, email: str | None = None) -> None:
        page = self.open("signin")
        expect(page.locator("h1")).to_have_text("Sign in")
        page.get_by_label("E-mail").fill(email or self.email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()


@pytest.fixture
def shots(request: pytest.FixtureRequest) -> Path:
    base = Path(os.environ.get("SCREENSHOTS_DIR", ROOT / "build" / "screenshots"))
    folder = base / request.node.name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


@pytest.fixture
def people(browser: Browser, stack: dict[str, str], shots: Path) -> Iterator[dict[str, Person]]:
    """Two people, each at their own phone-sized browser."""
    contexts = [browser.new_context(viewport=PHONE) for _ in range(2)]
    crowd = {name: Person(ctx, stack, shots, name)
             for name, ctx in zip(("Ana", "Ben"), contexts, strict=True)}
    yield crowd
    for ctx in contexts:
        ctx.close()
    for person in crowd.values():
        assert not person.errors, f"{person.name}'s page threw or was blocked: {person.errors}"
