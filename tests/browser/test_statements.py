"""Issue 30, the web part: a funded person pays someone, waits for a checkpoint, opens
Statements for this month, sees it verify in the browser (hash chain, Merkle proof, the
checkpoint's Ed25519 signature by the published key, web/src/statement_verify.js), and downloads
the month as CSV, PDF and JSON. The JSON is checked again by the Python reference verifier
(statement_verify) against the same published keys: both must agree. The PDF's first page is
rendered (pdftoppm) into the test's screenshots."""
from __future__ import annotations

import csv
import io
import json
import re
import shutil
import subprocess
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

from playwright.sync_api import Page, Route, expect
from pypdf import PdfReader

from statement_verify import verify
from tests.browser.conftest import Person
from tests.browser.test_journey import top_up_with_test_card

COLUMNS = ["seq", "chain", "posted_at", "transfer_id", "type", "direction", "amount", "balance_after", "hash",
           "prev_hash"]


def click_verify(page: Page) -> str:
    """Press Verify and wait for ITS answer (the verdict's data-check counts answers)."""
    verdict = page.get_by_test_id("verdict")
    before = int(verdict.get_attribute("data-check") or 0) if verdict.count() else 0
    page.get_by_role("button", name="Verify", exact=True).click()
    answered = page.locator(f'[data-testid="verdict"][data-check="{before + 1}"]')
    expect(answered).to_be_visible()
    return answered.inner_text()


def download(person: Person, button: str, folder: Path) -> Path:
    with person.page.expect_download() as info:
        person.page.get_by_role("button", name=button).click()
    d = info.value
    target = folder / d.suggested_filename
    d.save_as(str(target))
    return target


def test_statement_verifies_and_downloads(people: dict[str, Person], stack: dict[str, str], shots: Path) -> None:
    ana, ben = people["Ana"], people["Ben"]
    ana.sign_up("Ana", "Bell")
    ben.sign_up("Ben", "Cole")
    top_up_with_test_card(ana, "50")
    page = ana.nav("Send")
    page.get_by_label("To (e-mail or phone)").fill(ben.email)
    page.get_by_label("Amount").fill("12.50")
    page.get_by_role("button", name="Send", exact=True).click()
    expect(ana.status("Sent $12.50 to")).to_be_visible()

    page = ana.nav("Statements")
    month = datetime.now(UTC).strftime("%Y-%m")
    expect(page.get_by_label("Month")).to_have_value(month)
    expect(page.get_by_test_id("opening-balance")).to_have_text("$0.00")
    expect(page.get_by_test_id("closing-balance")).to_have_text("$37.50")
    rows = page.get_by_test_id("statement-items").locator("tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("Card top-up")  # oldest first
    expect(rows.nth(1)).to_contain_text("\u2212$12.50")  # a minus sign
    ana.shot("statement")

    # A month not started yet is refused in words, before any call.
    future = f"{datetime.now(UTC).year + 1}-01"
    page.get_by_label("Month").fill(future)
    expect(page.get_by_role("alert")).to_contain_text("has not started yet")
    page.get_by_label("Month").fill(month)
    expect(page.get_by_test_id("closing-balance")).to_have_text("$37.50")

    # The chainer links the entries within a second; a checkpoint comes every scheduling interval
    # locally: until then the screen says plainly that it is not proven yet.
    deadline, said = time.time() + 120, click_verify(page)
    while not said.startswith("Verified against checkpoint"):
        assert said.startswith("Not verified yet"), said  # never a failure, only not yet
        if "statement-not-yet" not in " ".join(p.name for p in shots.iterdir()):
            ana.shot("statement-not-yet")
        assert time.time() < deadline, f"no checkpoint covered the statement in 120 s: {said}"
        time.sleep(3)
        said = click_verify(page)
    checkpoint_id = re.search(r"checkpoint (cp_\w+)", said).group(1)  # type: ignore[union-attr]
    ana.shot("statement-verified")

    # The same statement, by the Python reference verifier, with the keys the ledger publishes.
    statement = json.loads(download(ana, "Download JSON", shots).read_text())
    with urllib.request.urlopen(f"{stack['API_URL']}/.well-known/ledger-keys.json", timeout=10) as res:
        keys = json.load(res)
    summary = verify(statement, keys)
    assert summary.startswith(f"OK: 2 entries of {statement['wallet_id']}") and checkpoint_id in summary, summary

    # CSV: RFC 4180, the header and one row per entry, oldest first.
    table = list(csv.reader(io.StringIO(download(ana, "Download CSV", shots).read_text(encoding="utf-8"))))
    assert table[0] == COLUMNS
    assert [(r[4], r[5], r[6], r[7]) for r in table[1:]] == [("topup", "credit", "5000", "5000"),
                                                             ("transfer", "debit", "1250", "3750")]
    assert [r[8] for r in table[1:]] == [i["hash"] for i in statement["items"]]

    # PDF: its text, and its first page as a picture beside the screenshots.
    pdf = download(ana, "Download PDF", shots)
    assert pdf.read_bytes().startswith(b"%PDF")
    text = PdfReader(str(pdf)).pages[0].extract_text()
    for words in (statement["wallet_id"], "37.50", "12.50", "50.00"):
        assert words in text, f"{words!r} not in the PDF's text:\n{text}"
    if shutil.which("pdftoppm"):
        subprocess.run(["pdftoppm", "-png", "-r", "110", "-f", "1", "-l", "1", "-singlefile", str(pdf),
                        str(shots / "ana-pdf-page-1")], check=True, timeout=60)
        assert (shots / "ana-pdf-page-1.png").stat().st_size > 0
    ana.shot("statement-downloaded")

    # An amount changed on the way (as an edit in the tables would change it): the browser names
    # the entry whose hash no longer holds, as an alert.
    def tampered(route: Route) -> None:
        body = route.fetch().json()
        body["items"][0]["amount"] += 100
        for item in body["items"]:
            item["balance_after"] += 100
        body["closing_balance"] += 100
        route.fulfill(json=body)

    statements_route = re.compile(r"/statements/\d{4}-\d{2}$")
    page.route(statements_route, tampered)
    said = click_verify(page)
    expect(page.get_by_role("alert")).to_contain_text("This statement does not verify")
    assert re.search(r"entry seq \d+ \(tp_\w+\) was changed: its hash differs", said), said
    ana.shot("statement-tampered")
    page.unroute(statements_route)
