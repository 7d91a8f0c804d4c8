"""Statements people can check, over HTTP against the local stack (API.md "Statements people can
check"): the balance at an instant, a month as JSON, CSV and PDF, the public key and checkpoint,
a statement verified by `python -m statement_verify`, `ops verify-ledger`, and the OpenAPI doc."""
from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

from chalicelib.domain.ids import rfc3339
from tests.e2e.conftest import Api, wait_for

ROOT = Path(__file__).resolve().parents[2]
MONTH = time.strftime("%Y-%m", time.gmtime())


def code(r):
    return r.json()["error"]["code"]


def default_wallet(user) -> str:
    return str(user.api.request("GET", "/wallets").json()["items"][0]["wallet_id"])


def pdf_text(raw: bytes, tmp: Path) -> str:
    """The PDF's text as poppler's pdftotext gives it (pypdf where poppler is not installed)."""
    (tmp / "s.pdf").write_bytes(raw)
    if shutil.which("pdftotext"):
        return subprocess.run(["pdftotext", "-layout", str(tmp / "s.pdf"), "-"], capture_output=True, text=True,
                              check=True).stdout
    from pypdf import PdfReader

    return "\n".join(page.extract_text() for page in PdfReader(tmp / "s.pdf").pages)


def test_a_person_s_month_adds_up_in_every_format_and_verifies_without_us(api, new_user, fund, tmp_path):
    ada, grace = new_user(), new_user()
    wa, wg = default_wallet(ada), default_wallet(grace)
    fund(wa, 5000)
    for amount in (1250, 300):
        r = ada.api.request("POST", "/transfers", {"from_wallet_id": wa, "to": {"wallet_id": wg}, "amount": amount,
                                                    "currency": "USD"}, headers={"Idempotency-Key": uuid.uuid4().hex})
        assert r.status_code == 201
    # Chained by the stack's chainer (the entries stream), then committed to by a checkpoint
    # (every scheduling interval locally).
    statement = wait_for(lambda: (lambda s: s if s["proof"] else None)(
        ada.api.request("GET", f"/wallets/{wa}/statements/{MONTH}").json()), timeout=60)
    assert statement["wallet_id"] == wa and statement["currency"] == "USD"
    assert statement["period"]["from"] == f"{MONTH}-01T00:00:00.000Z"
    assert [(i["type"], i["direction"], i["amount"]) for i in statement["items"]] == [
        ("topup", "credit", 5000), ("transfer", "debit", 1250), ("transfer", "debit", 300)]
    assert [i["balance_after"] for i in statement["items"]] == [5000, 3750, 3450]
    assert statement["opening_balance"] == 0 and statement["closing_balance"] == 3450
    assert [i["seq"] for i in statement["items"]] == [1, 2, 3] and statement["items"][0]["prev_hash"] == "0" * 64

    keys = api.request("GET", "/.well-known/ledger-keys.json", headers={"Authorization": ""})
    latest = api.request("GET", "/ledger/checkpoints/latest")
    assert keys.status_code == 200 and keys.json()["keys"][0]["crv"] == "Ed25519"
    assert latest.status_code == 200 and set(latest.json()) == {"checkpoint_id", "at", "root", "jws"}
    (tmp_path / "s.json").write_text(json.dumps(statement))
    (tmp_path / "k.json").write_text(keys.text)
    ok = subprocess.run([sys.executable, "-m", "statement_verify", str(tmp_path / "s.json"), "--keys",
                         str(tmp_path / "k.json")], cwd=ROOT, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stdout + ok.stderr

    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    at = ada.api.request("GET", f"/wallets/{wa}/balance?at={now}").json()
    assert at == {"wallet_id": wa, "currency": "USD", "at": at["at"], "balance": 3450}
    assert ada.api.request("GET", f"/wallets/{wa}/balance?at=2001-01-01T00:00:00Z").json()["balance"] == 0
    first = statement["items"][0]["posted_at"]
    assert ada.api.request("GET", f"/wallets/{wa}/balance?at={first}").json()["balance"] == 5000

    r = ada.api.request("GET", f"/wallets/{wa}/statements/{MONTH}?format=csv")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/csv")
    assert r.content.endswith(b"\r\n")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [(row["type"], row["amount"], row["balance_after"]) for row in rows] == [
        ("topup", "5000", "5000"), ("transfer", "1250", "3750"), ("transfer", "300", "3450")]

    r = ada.api.request("GET", f"/wallets/{wa}/statements/{MONTH}?format=pdf", headers={"Accept": "application/pdf"})
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/pdf" and r.content[:5] == b"%PDF-"
    text = pdf_text(r.content, tmp_path)
    for shown in (wa, MONTH, "Opening balance", "0.00 USD", "Closing balance", "34.50 USD", "50.00 USD", "-12.50 USD",
                  "-3.00 USD", "topup", "transfer", statement["items"][1]["posted_at"][:10]):
        assert shown in text, shown


def test_the_contract_s_refusals(api, new_user):
    ada, other = new_user(), new_user()
    wa = default_wallet(ada)
    theirs = default_wallet(other)
    future = time.strftime("%Y-%m", time.gmtime(time.time() + 40 * 86400))
    assert code(ada.api.request("GET", f"/wallets/{wa}/statements/{future}")) == "invalid_request"
    assert code(ada.api.request("GET", f"/wallets/{wa}/statements/2025-13")) == "invalid_request"
    assert code(ada.api.request("GET", f"/wallets/{wa}/statements/{MONTH}?format=xml")) == "invalid_request"
    assert code(ada.api.request("GET", f"/wallets/{wa}/balance?at=2999-01-01T00:00:00Z")) == "invalid_request"
    assert code(ada.api.request("GET", f"/wallets/{wa}/balance?at=yesterday")) == "invalid_request"
    assert code(ada.api.request("GET", f"/wallets/{wa}/balance")) == "invalid_request"
    for path in (f"/wallets/{theirs}/balance?at=2020-01-01T00:00:00Z", f"/wallets/{theirs}/statements/{MONTH}"):
        assert ada.api.request("GET", path).status_code == 404  # someone else's wallet: as if none
        assert Api(api.base).request("GET", path).status_code == 401  # no token
    old = ada.api.request("GET", f"/wallets/{wa}/statements/2020-02").json()
    assert old["items"] == [] and old["opening_balance"] == old["closing_balance"] == 0
    assert old["period"] == {"from": "2020-02-01T00:00:00.000Z", "to": "2020-02-29T23:59:59.999Z"}


def test_verify_ledger_is_an_audited_operator_command(ops):
    # The audit from now on: other modules of the session write records of their own (some with
    # the integration tests' own keys, which this stack cannot decrypt).
    since = rfc3339(time.time())
    report = ops("verify-ledger")  # exit 0: nothing in this stack was edited outside the service
    assert report["intact"] is True and report["first"] is None
    assert report["chains"] > 0 and report["checkpoints"] > 0 and report["entries"] > 0
    audit = ops("audit", "--since", since)
    assert any(r["command"] == "verify ledger" for r in audit["items"])  # the label: dashes as spaces


def test_the_openapi_document_describes_the_routes_exactly(api):
    doc = api.request("GET", "/openapi.json").json()
    statement = doc["paths"]["/wallets/{wallet_id}/statements/{month}"]["get"]
    assert set(statement["responses"]["200"]["content"]) == {"application/json", "text/csv", "application/pdf"}
    assert {p["name"] for p in statement["parameters"]} >= {"wallet_id", "month", "format", "checkpoint"}
    for path in ("/.well-known/ledger-keys.json", "/ledger/checkpoints/latest"):
        assert doc["paths"][path]["get"]["security"] == []
    assert doc["paths"]["/wallets/{wallet_id}/balance"]["get"]["security"] == [{"bearerAuth": []}]
