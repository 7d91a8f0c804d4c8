"""A statement as a PDF that reads like a bank's: fpdf2 (pure Python, kept up, ~1 MB of its own;
Pillow and fontTools come with it) with the core Helvetica font, so no font file is shipped and
`pdftotext` extracts every figure as text."""
from __future__ import annotations

from typing import Any

from chalicelib.domain.money import currency_exponent


def money(amount: int, currency: str) -> str:
    """12345 USD -> "123.45 USD" (minor units shown in the currency's own exponent)."""
    e = currency_exponent(currency)
    sign = "-" if amount < 0 else ""
    whole, part = divmod(abs(amount), 10 ** e) if e else (abs(amount), 0)
    return f"{sign}{whole:,}{'.' + str(part).zfill(e) if e else ''} {currency}"


def render(statement: dict[str, Any]) -> bytes:
    import warnings

    with warnings.catch_warnings():  # the package leaves Pillow out on purpose (deploy/package.py)
        warnings.filterwarnings("ignore", message="Pillow could not be imported")
        from fpdf import FPDF

    cur = statement["currency"]
    pdf = FPDF(orientation="P", unit="mm", format="A4")
    pdf.set_title(f"Statement {statement['wallet_id']} {statement['period']['from'][:7]}")
    pdf.set_creator("e-wallet")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(0, 10, "Wallet statement", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 10)
    for label, value in (("Wallet", statement["wallet_id"]), ("Currency", cur),
                         ("Period", f"{statement['period']['from']} to {statement['period']['to']}"),
                         ("Opening balance", money(statement["opening_balance"], cur)),
                         ("Closing balance", money(statement["closing_balance"], cur))):
        pdf.cell(40, 6, f"{label}:")
        pdf.cell(0, 6, value, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    widths = (42, 22, 16, 34, 34, 42)
    pdf.set_font("Helvetica", "B", 9)
    for width, title in zip(widths, ("Date (UTC)", "Type", "Dir.", "Amount", "Balance", "Transfer"), strict=True):
        pdf.cell(width, 7, title, border="B")
    pdf.ln()
    pdf.set_font("Helvetica", "", 9)
    for item in statement["items"]:
        signed = item["amount"] if item["direction"] == "credit" else -item["amount"]
        row = (item["posted_at"].replace("T", " ").replace("Z", ""), item["type"], item["direction"],
               money(signed, cur), money(item["balance_after"], cur), item["transfer_id"][:22])
        for width, value, align in zip(widths, row, ("L", "L", "L", "R", "R", "L"), strict=True):
            pdf.cell(width, 6, value, align=align)
        pdf.ln()
    if not statement["items"]:
        pdf.cell(0, 6, "No entries were posted in this period.", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_font("Helvetica", "", 8)
    proof = statement.get("proof")
    checkpoint = proof["checkpoint"]["checkpoint_id"] if proof else "none yet (at most an hour)"
    pdf.multi_cell(0, 4, "Every entry above is in a hash chain committed to by a signed checkpoint "
                         f"({checkpoint}). Check it yourself with the JSON statement: "
                         "python -m statement_verify STATEMENT.json --keys ledger-keys.json")
    return bytes(pdf.output())
