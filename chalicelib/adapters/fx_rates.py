"""Fetching the published reference-rates file (the ECB's `eurofxref-daily.xml`).

In AWS an HTTPS GET of the ECB's public file (no key); locally the stack's fixed copy through a
file:// URL, read by the same code and the same parser. Bounded: a timeout, and at most
`MAX_FILE_BYTES` read, so a misbehaving server cannot hold or flood the function.
"""
from __future__ import annotations

import urllib.parse
import urllib.request

from chalicelib.domain.fx import MAX_FILE_BYTES, RatesFileError

ECB_DAILY_URL = "https://www.ecb.europa.eu/stats/eurofxref/eurofxref-daily.xml"
TIMEOUT_SECONDS = 10


def fetch(url: str, *, local: bool = False, timeout: float = TIMEOUT_SECONDS) -> bytes:
    """The file's bytes. Only https, except on the local stack (and tests), which may name a
    file:// or http:// copy: a deployed function never reads a local file because of a setting."""
    scheme = urllib.parse.urlsplit(url).scheme
    allowed = ("https", "http", "file") if local else ("https",)
    if scheme not in allowed:
        raise RatesFileError(f"FX_RATES_URL must be one of {allowed} URLs, not {scheme!r}")
    request = urllib.request.Request(url, headers={"User-Agent": "ewallet-fx-rates/1"})
    with urllib.request.urlopen(request, timeout=timeout) as response:  # the scheme is checked above
        data: bytes = response.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise RatesFileError("the rates file is too large")
    return data
