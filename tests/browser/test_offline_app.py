"""The web wallet as an app that works with no network (API.md, "Offline payments in the web
wallet"): two people at two browsers with the network really off (Playwright's offline mode) pay
each other through QR codes read from the rendered images; the payee is credited once back
online; a copied code is never credited twice; a code for someone else is refused offline; the
command-line client reads the page's payment code and the page its; a new version of the app keeps what is held.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pyotp
import pytest
from playwright.sync_api import Page, expect

from chalicelib.domain.commands import OpenAllowance
from tests.browser.conftest import PASSWORD, Person
from tests.conftest import ROOT

CONTROLLED = "navigator.serviceWorker && navigator.serviceWorker.controller !== null"


def two_step_on(person: Person) -> list[str]:
    """Turns 2FA on in Security; answers the recovery codes (the app's code is then spent)."""
    page = person.nav("Security")
    page.get_by_test_id("mfa-setup").get_by_label("Your password").fill(PASSWORD)
    page.get_by_role("button", name="Set up two-step verification").click()
    secret = page.get_by_test_id("totp-secret").inner_text()
    page.get_by_label("Code from the app").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Turn on").click()
    codes = page.get_by_test_id("recovery-codes").get_by_role("listitem")
    expect(codes).to_have_count(10)
    return [codes.nth(i).inner_text() for i in range(10)]


def code_image(page: Page, name: str) -> bytes:
    """The QR code as the screen shows it: a screenshot of the image."""
    image = page.get_by_role("img", name=name)
    expect(image).to_be_visible()
    return image.screenshot()


def scan(page: Page, png: bytes) -> None:
    page.get_by_label("Scan from a photo").set_input_files({"name": "code.png", "mimeType": "image/png", "buffer": png})


def user_id(person: Person) -> str:
    """The person's user id, from their receive code (its text is EWR1:<user id>)."""
    page = person.nav("Offline")
    page.get_by_role("button", name="Receive offline").click()
    text = page.get_by_role("img", name="Receive code").get_attribute("data-text") or ""
    page.get_by_role("button", name="Back").click()
    assert text.startswith("EWR1:")
    return text.split(":")[1]


def offline_ready(person: Person) -> None:
    """One online visit made the app installable: the worker controls the page, and the offline
    keys are saved."""
    person.page.wait_for_function(CONTROLLED)
    person.nav("Offline")
    expect(person.page.get_by_test_id("keys-ready")).to_be_visible()


@pytest.fixture
def setup(people: dict[str, Person], stack_container) -> dict[str, object]:  # type: ignore[no-untyped-def]
    """Ana (2FA on, 50.00 USD, this browser registered with a 20.00 allowance) and Ben."""
    from chalicelib.domain.ids import new_id
    from chalicelib.domain.money import Money

    ana, ben = people["Ana"], people["Ben"]
    ana.sign_up("Ana", "Bell")
    ben.sign_up("Ben", "Cole")
    recovery = two_step_on(ana)
    ana_id, ben_id = user_id(ana), user_id(ben)
    wallet = stack_container.ledger.default_wallet(ana_id, "USD")
    assert stack_container.ledger.credit_from_system("stripe_clearing", wallet, Money(5000, "USD"), new_id("tp"))
    page = ana.nav("Offline")
    ana.shot("offline-unregistered")
    page.get_by_test_id("register-device").get_by_label("Authenticator code").fill(recovery[0])
    page.get_by_role("button", name="Register this device").click()
    expect(page.get_by_test_id("device-state")).to_contain_text("Registered")
    form = page.get_by_test_id("take-allowance")
    form.get_by_label("Amount").fill("20")
    form.get_by_label("Authenticator code").fill(recovery[1])
    page.get_by_role("button", name="Take allowance").click()
    expect(form.get_by_role("status")).to_contain_text("$20.00 is now held")
    expect(page.get_by_test_id("allowances")).to_contain_text("$20.00 left")
    ana.shot("offline-allowance")
    ana.nav("Home")  # the wallets as last seen: 50.00, 30.00 available
    expect(ana.page.get_by_test_id("available-USD")).to_have_text("$30.00")
    expect(ana.page.get_by_test_id("transactions")).to_contain_text("+$50.00")  # kept for offline too
    for person in (ana, ben):
        offline_ready(person)
    return {"ana_id": ana_id, "ben_id": ben_id, "recovery": recovery[2:], "wallet": wallet}


def cli_payment_code(stack_container, setup: dict[str, object], receive_code: str, tmp_path: Path) -> str:  # type: ignore[no-untyped-def]
    """Ana's other phone runs the command-line client: a key of its own, registered, a 5.00
    allowance, and a voucher to Ben's receive code: its payment code."""
    key = tmp_path / "cli-key.json"
    keygen = subprocess.run([sys.executable, "-m", "offline_wallet", "keygen", "--out", str(key)], cwd=ROOT,
                            capture_output=True, text=True, check=True)
    ana_id, recovery = str(setup["ana_id"]), list(setup["recovery"])  # type: ignore[call-overload]
    device = stack_container.offline.register_device(ana_id, json.loads(keygen.stdout)["public_key"], "CLI")
    allowance = stack_container.offline.create_allowance(
        ana_id, "cli-allowance", OpenAllowance(device["device_id"], str(setup["wallet"]), 500), recovery[0]).body
    signed = subprocess.run([sys.executable, "-m", "offline_wallet", "sign", "--key", str(key),
                             "--certificate", allowance["certificate"], "--receive-code", receive_code,
                             "--amount", "200", "--chain", str(tmp_path / "cli-chain.json"), "--payment-code"],
                            cwd=ROOT, capture_output=True, text=True)
    assert signed.returncode == 0, signed.stderr
    return signed.stdout.strip()


def qr_png(person: Person, text: str) -> bytes:
    """A QR code of `text` on another screen, drawn by the same library the page uses."""
    script = (ROOT / "node_modules" / "qrcode-generator" / "dist" / "qrcode.js").read_text()
    screen = person.context.new_page()
    try:
        screen.set_content(f"<script>{script}</script><img id='qr' alt='code'>")
        screen.evaluate("""(text) => { const qr = qrcode(0, 'M'); qr.addData(text, 'Byte'); qr.make();
                                       document.getElementById('qr').src = qr.createDataURL(4, 16); }""", text)
        expect(screen.locator("#qr")).to_be_visible()
        return screen.locator("#qr").screenshot()
    finally:
        screen.close()


def test_two_browsers_with_no_network_pay_each_other(people: dict[str, Person], setup: dict[str, object],
                                                       stack: dict[str, str], stack_container,  # type: ignore[no-untyped-def]
                                                       tmp_path: Path) -> None:
    ana, ben = people["Ana"], people["Ben"]
    ben_id = str(setup["ben_id"])
    # The network goes off; both reopen the app: it opens from the worker's copy, signed out of
    # the API but showing what it kept.
    for person in (ana, ben):
        person.context.set_offline(True)
        person.page.reload()
        expect(person.page.get_by_test_id("live-state")).to_have_text("Offline")
    ana.nav("Home")
    expect(ana.page.locator("h1")).to_have_text("Hello, Ana")
    expect(ana.page.get_by_test_id("balance-USD")).to_have_text("$50.00")
    expect(ana.page.get_by_test_id("available-USD")).to_have_text("$30.00")
    expect(ana.page.get_by_role("heading", name=re.compile(r"^Recent transactions · .* \(USD\)$"))).to_be_visible()
    expect(ana.page.get_by_test_id("transactions")).to_contain_text("+$50.00")
    ana.shot("offline-home")

    # Ben shows his receive code; Ana scans it from a photo of his screen and pays 3.50.
    page = ben.nav("Offline")
    page.get_by_role("button", name="Receive offline").click()
    receive_png = code_image(page, "Receive code")
    ben.shot("offline-receive")
    page = ana.nav("Offline")
    ana.shot("offline-main")
    page.get_by_role("button", name="Pay offline").click()
    ana.shot("offline-pay-scan")
    scan(page, receive_png)
    expect(page.get_by_test_id("payee")).to_have_text(ben_id)
    page.get_by_label("Amount").fill("3.50")
    ana.shot("offline-pay-amount")
    page.get_by_role("button", name="Confirm payment").click()
    payment_png = code_image(page, "Payment code")
    code = page.get_by_role("img", name="Payment code").get_attribute("data-text") or ""
    assert code.startswith("EWP1:") and len(code) <= 1200
    ana.shot("offline-payment-code")

    # Ben scans the payment code: checked offline, kept, not yet redeemed.
    scan(ben.page, payment_png)
    expect(ben.page.get_by_role("status").filter(has_text="Received $3.50")).to_be_visible()
    expect(ben.page.get_by_test_id("received-payment")).to_have_count(1)
    expect(ben.page.get_by_test_id("received-payment")).to_contain_text("Not yet redeemed")
    ben.shot("offline-received")
    # The same code again (a copy) is refused offline, and kept once only.
    scan(ben.page, payment_png)
    expect(ben.page.get_by_role("alert")).to_contain_text("already_seen")
    expect(ben.page.get_by_test_id("received-payment")).to_have_count(1)
    ben.shot("offline-copy-refused")

    # A code that pays someone else (Ana pays her own receive code) is refused offline.
    page.get_by_role("button", name="Done").click()
    page.get_by_role("button", name="Receive offline").click()
    own = code_image(page, "Receive code")
    page.get_by_role("button", name="Pay offline").click()
    scan(page, own)
    page.get_by_label("Amount").fill("1")
    page.get_by_role("button", name="Confirm payment").click()
    scan(ben.page, code_image(page, "Payment code"))
    expect(ben.page.get_by_role("alert")).to_contain_text("wrong_payee")
    expect(ben.page.get_by_test_id("received-payment")).to_have_count(1)
    ben.shot("offline-wrong-payee")

    # A voucher the command-line client signed (another phone of Ana's) is accepted by the page
    # offline, from a photo of its QR code, like the page's own.
    page.get_by_role("button", name="Done").click()
    ben_page = ben.nav("Offline")
    ben_page.get_by_role("button", name="Receive offline").click()
    receive_code = ben_page.get_by_role("img", name="Receive code").get_attribute("data-text") or ""
    scan(ben_page, qr_png(ana, cli_payment_code(stack_container, setup, receive_code, tmp_path)))
    expect(ben_page.get_by_role("status").filter(has_text="Received $2.00")).to_be_visible()
    expect(ben_page.get_by_test_id("received-payment")).to_have_count(2)
    ben.shot("offline-received-from-cli")

    # The command-line client accepts the page's payment code (same formats, both ways).
    keys = tmp_path / "keys.json"
    with urllib.request.urlopen(stack["API_URL"] + "/.well-known/offline-keys.json") as answer:
        keys.write_bytes(answer.read())
    verdict = subprocess.run([sys.executable, "-m", "offline_wallet", "verify", "--payment-code", code,
                              "--keys", str(keys), "--me", ben_id], cwd=ROOT, capture_output=True, text=True)
    assert verdict.returncode == 0, verdict.stderr
    assert json.loads(verdict.stdout.splitlines()[0])["accepted"] is True

    # Back online: Ben's app restores his session and redeems by itself within 30 s.
    for person in (ana, ben):
        person.context.set_offline(False)
    for amount in ("$3.50", "$2.00"):
        expect(ben.page.get_by_test_id("received-payment").filter(has_text=amount)).to_contain_text(
            "Credited", timeout=30_000)
    ben.shot("offline-credited")
    ben.nav("Home")
    expect(ben.page.get_by_test_id("balance-USD")).to_have_text("$5.50")
    # The copy again, now online: still refused here, and the server would say already_redeemed.
    page = ben.nav("Offline")
    page.get_by_role("button", name="Receive offline").click()
    scan(ben.page, payment_png)
    expect(ben.page.get_by_role("alert")).to_contain_text("already_seen")
    ben.nav("Home")
    expect(ben.page.get_by_test_id("balance-USD")).to_have_text("$5.50")


def test_a_new_version_of_the_app_keeps_what_is_held(people: dict[str, Person], stack: dict[str, str]) -> None:
    """A new build (a new worker) replaces the old copy of the app; the vouchers held, in
    IndexedDB, are still there."""
    ana = people["Ana"]
    ana.sign_up("Ana", "Bell")
    ana.page.wait_for_function(CONTROLLED)
    ana.nav("Offline")
    # Something held: a record in IndexedDB, as a received voucher is kept.
    ana.page.evaluate("""() => new Promise((resolve, reject) => {
        const req = indexedDB.open('ewallet');
        req.onsuccess = () => {
          const t = req.result.transaction('vouchers', 'readwrite');
          t.objectStore('vouchers').put({ id: 'alw_test:1', owner: 'nobody', status: 'held', seq: 1, amount: 1,
            currency: 'USD', received_at: Date.now() });
          t.oncomplete = resolve; t.onerror = reject;
        };
        req.onerror = reject;
    })""")
    before = ana.page.evaluate("caches.keys()")
    assert len(before) == 1 and before[0].startswith("ewallet-app-")
    sw = Path(stack["STACK_DIR"]) / "web" / "sw.js"
    original = sw.read_text()
    version = re.search(r"const VERSION = '([0-9a-f]+)'", original)
    assert version
    try:
        sw.write_text(original.replace(version.group(0), f"const VERSION = '{version.group(1)}ff'"))
        ana.page.evaluate("navigator.serviceWorker.getRegistration().then((r) => r.update())")
        # Polled from here: evaluate() awaits the promise, and a wait_for_function over it did
        # not (a promise is truthy), so it once read the old cache before the new worker had
        # activated.
        deadline = time.monotonic() + 30
        while (after := ana.page.evaluate("caches.keys()")) != [f"ewallet-app-{version.group(1)}ff"]:
            assert time.monotonic() < deadline, after
            ana.page.wait_for_timeout(200)
        kept = ana.page.evaluate("""() => new Promise((resolve) => {
            const req = indexedDB.open('ewallet');
            req.onsuccess = () => {
              const get = req.result.transaction('vouchers').objectStore('vouchers').get('alw_test:1');
              get.onsuccess = () => resolve(get.result);
            };
        })""")
        assert kept and kept["status"] == "held"
        # The new version opens with the network off, signed in from the cache.
        ana.context.set_offline(True)
        ana.page.reload()
        expect(ana.page.get_by_test_id("live-state")).to_have_text("Offline")
        ana.nav("Home")
        expect(ana.page.locator("h1")).to_have_text("Hello, Ana")
        assert f"ewallet-app-{version.group(1)}ff" in ana.page.evaluate("caches.keys()")
        ana.shot("offline-after-update")
    finally:
        sw.write_text(original)
    ana.context.set_offline(False)
