"""Issue 26 in the browser: verify first, the sessions screen (two browsers of one person, one
signing the other out), step-up prompts, and a new sign-in told live."""
from __future__ import annotations

import random
import re

from playwright.sync_api import Response, expect

from tests.browser.conftest import PASSWORD, Person


def a_phone() -> str:
    return f"+6591{random.randint(0, 999_999):06d}"  # a valid Singapore mobile, unlikely taken


def test_verify_first_then_a_refused_write_brings_the_verify_screen_back(people: dict[str, Person]) -> None:
    ana = people["Ana"]
    phone, new_phone = a_phone(), a_phone()
    ana.sign_up("Ana", "Bell", phone=phone, verify=False)
    page = ana.page
    ana.shot("verify-screen")
    # Nothing else opens before a contact is proven: no navigation, and a typed route comes back.
    expect(page.get_by_role("navigation", name="Main")).to_have_count(0)
    page.evaluate("() => { location.hash = '#/send'; }")
    expect(page).to_have_url(re.compile(r"#/verify$"))
    expect(page.locator("h1")).to_have_text("Verify your e-mail")
    # The phone will do as well as the e-mail.
    ana.verify_contact("phone", phone)
    expect(page.locator("h1")).to_have_text("Hello, Ana")

    # A new phone starts unverified (step-up: the password), and the e-mail never was: the
    # account has no proven contact any more, and its next write is refused (403
    # verification_required). The wallet says so in words and opens the verify screen.
    page = ana.nav("Security")
    form = page.get_by_test_id("phone-form")
    form.get_by_label("New phone number").fill(new_phone)
    form.get_by_role("button", name="Save phone").click()
    expect(form.get_by_role("alert")).to_have_text(
        "Please confirm it is you: enter your password, or a code from your authenticator app "
        "if two-step verification is on.")
    form.get_by_label("Your password").fill("not the password at all")
    form.get_by_role("button", name="Save phone").click()
    expect(form.get_by_role("alert")).to_have_text(
        "That password or code is not right, so we could not confirm it is you.")
    expect(form.get_by_label("Your password")).to_have_attribute("aria-invalid", "true")
    ana.shot("phone-step-up-refused")
    form.get_by_label("Your password").fill(PASSWORD)
    form.get_by_role("button", name="Save phone").click()
    expect(page.get_by_test_id("contact-phone")).to_contain_text("not verified")
    page = ana.nav("Home")
    page.get_by_label("Currency").select_option("EUR")
    page.get_by_role("button", name="Open wallet").click()
    expect(page.locator("h1")).to_have_text("Verify your e-mail")
    expect(page.get_by_test_id("verify-first")).to_have_text(
        "That needs a verified e-mail or phone first. Verify one below, then try again.")
    ana.shot("verify-after-refusal")
    ana.verify_contact("email")
    expect(page.locator("h1")).to_have_text("Hello, Ana")
    page.get_by_label("Currency").select_option("EUR")
    page.get_by_role("button", name="Open wallet").click()
    expect(page.get_by_test_id("balance-EUR")).to_have_text("€0.00")


def test_two_step_verification_needs_the_password(people: dict[str, Person]) -> None:
    ana = people["Ana"]
    ana.sign_up("Ana", "Bell")
    page = ana.nav("Security")
    setup = page.get_by_test_id("mfa-setup")
    setup.get_by_label("Your password").fill("a wrong password, surely")
    setup.get_by_role("button", name="Set up two-step verification").click()
    expect(setup.get_by_role("alert")).to_have_text(
        "That password or code is not right, so we could not confirm it is you.")
    ana.shot("2fa-step-up-refused")
    setup.get_by_label("Your password").fill(PASSWORD)
    setup.get_by_role("button", name="Set up two-step verification").click()
    expect(page.get_by_role("img", name="QR code for your authenticator app")).to_be_visible()
    ana.shot("2fa-qr")


def test_sessions_of_two_browsers_and_signing_the_other_out(people: dict[str, Person]) -> None:
    here, there = people["Ana"], people["Ben"]  # one person, Ana, at two browsers
    here.sign_up("Ana", "Bell")
    there.email = here.email
    refused: list[str] = []

    def watch(response: Response) -> None:
        if response.status == 401 and "/auth/" not in response.url:
            refused.append(f"{response.request.method} {response.url}")

    there.page.on("response", watch)
    there.sign_in()
    expect(there.page.locator("h1")).to_have_text("Hello, Ana")
    # A sign-in from a browser this account has never used is told at once, in words.
    expect(here.page.get_by_test_id("toast")).to_contain_text(
        "New sign-in to your account from Chrome on Linux.", timeout=10_000)

    page = here.nav("Security")
    page.get_by_role("link", name="Your sessions").click()
    expect(page.locator("h1")).to_have_text("Your sessions")
    sessions = page.get_by_test_id("session")
    expect(sessions).to_have_count(2)
    mine = sessions.filter(has_text="This browser")
    expect(mine).to_have_count(1)
    expect(mine).to_contain_text("Chrome on Linux")
    expect(mine).to_contain_text("Signed in")
    expect(mine).to_contain_text("last active")
    here.shot("sessions")
    other = page.locator('[data-testid="session"][data-current="false"]')
    other.get_by_role("button", name="Sign out").click()
    expect(here.status("Signed out Chrome on Linux.")).to_be_visible()
    expect(sessions).to_have_count(1)
    here.shot("sessions-after-sign-out")

    # The other browser's next request is refused (401, its refresh too): back to sign in.
    there.page.evaluate("() => { location.hash = '#/requests'; }")
    expect(there.page.locator("h1")).to_have_text("Sign in")
    assert refused, "the signed-out browser's requests should have been refused"
    there.shot("signed-out-elsewhere")

    # It signs in again; "Sign out everywhere else" ends it once more, and this one stays.
    there.sign_in()
    expect(there.page.locator("h1")).to_have_text("Hello, Ana")
    here.nav("Home")
    page = here.nav("Security")
    page.get_by_role("link", name="Your sessions").click()
    expect(sessions).to_have_count(2)
    page.get_by_role("button", name="Sign out everywhere else").click()
    expect(here.status("Signed out everywhere else.")).to_be_visible()
    expect(sessions).to_have_count(1)
    there.page.evaluate("() => { location.hash = '#/home'; }")
    expect(there.page.locator("h1")).to_have_text("Sign in")
    # Signing out this browser from the list is the ordinary sign-out.
    mine.get_by_role("button", name="Sign out this browser").click()
    expect(here.page.locator("h1")).to_have_text("Sign in")

