"""The local stand-in for the ECB's daily reference-rates file (docs/exchange.md).

A fixed set of rates in the ECB's own format (`eurofxref-daily.xml`), dated the day the stack
starts so it is never stale, written into the stack's folder and published as a file:// URL
(`FX_RATES_URL`), which the scheduled function reads exactly as it reads the ECB's HTTPS URL in
AWS. The stack also loads it once before the API is ready, so quotes work at once.
"""
from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

# Units per 1 EUR, in the ECB's precision (a realistic day; the tests read them from the file).
RATES = {
    "USD": "1.0812", "JPY": "162.45", "BGN": "1.9558", "CZK": "25.127", "DKK": "7.4582", "GBP": "0.85213",
    "HUF": "395.33", "PLN": "4.3213", "RON": "4.9763", "SEK": "11.2345", "CHF": "0.9412", "ISK": "150.10",
    "NOK": "11.683", "TRY": "35.842", "AUD": "1.6358", "BRL": "6.0123", "CAD": "1.4712", "CNY": "7.8123",
    "HKD": "8.4234", "IDR": "17012.45", "ILS": "3.9876", "INR": "90.123", "KRW": "1460.21", "MXN": "21.345",
    "MYR": "4.8123", "NZD": "1.8012", "PHP": "61.234", "SGD": "1.4563", "THB": "37.123", "ZAR": "19.234",
}


def ecb_daily_xml(day: str, rates: dict[str, str] = RATES) -> str:
    cubes = "\n".join(f"\t\t\t<Cube currency='{c}' rate='{r}'/>" for c, r in rates.items())
    return ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<gesmes:Envelope xmlns:gesmes=\"http://www.gesmes.org/xml/2002-08-01\" "
            "xmlns=\"http://www.ecb.int/vocabulary/2002-08-01/eurofxref\">\n"
            "\t<gesmes:subject>Reference rates</gesmes:subject>\n"
            "\t<gesmes:Sender>\n\t\t<gesmes:name>European Central Bank</gesmes:name>\n\t</gesmes:Sender>\n"
            f"\t<Cube>\n\t\t<Cube time='{day}'>\n{cubes}\n\t\t</Cube>\n\t</Cube>\n</gesmes:Envelope>\n")


def publish(state: Path) -> dict[str, str]:
    """Write today's file into the stack's folder; the settings that name it."""
    folder = state / "fx"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "eurofxref-daily.xml"
    path.write_text(ecb_daily_xml(datetime.now(tz=UTC).strftime("%Y-%m-%d")))
    return {"FX_RATES_URL": path.resolve().as_uri(), "FX_SPREAD_BPS": os.environ.get("FX_SPREAD_BPS", "50")}


def load(env: dict[str, str]) -> None:
    """Fetch the published file into the rates table now, as the scheduled function does."""
    from chalicelib.config import Settings
    from chalicelib.container import Container
    from chalicelib.services.exchange import refresh_rates

    c = Container(Settings.from_env(env))
    refresh_rates(c.fx_store, c.fetch_fx_rates)
