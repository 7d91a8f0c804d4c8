"""The local outbox: what the app sent through SES and SNS, as moto recorded it.

moto keeps every e-mail (`ses.Message`) and SMS (`sns.SMS`) it was asked to send and serves them
at `GET <AWS_ENDPOINT>/moto-api/data.json`: this is how tests (and a developer with curl) read
a verification code locally.
"""
from __future__ import annotations

import re
from typing import Any

import requests

CODE = re.compile(r"code is (\d{6})")


def sent(aws_endpoint: str) -> dict[str, Any]:
    return requests.get(aws_endpoint.rstrip("/") + "/moto-api/data.json", timeout=30).json()


def messages_to(aws_endpoint: str, address: str) -> list[str]:
    """The texts sent to an e-mail address or phone number, oldest first."""
    data = sent(aws_endpoint)
    texts = []
    for m in data.get("ses", {}).get("Message", []):
        if address.lower() in (a.lower() for a in m.get("destinations", {}).get("ToAddresses", [])):
            texts.append(str(m.get("body", "")))
    for sms in data.get("sns", {}).get("SMS", []):
        if sms.get("phone_number") == address:
            texts.append(str(sms.get("message", "")))
    return texts


def last_code(aws_endpoint: str, address: str) -> str:
    for text in reversed(messages_to(aws_endpoint, address)):
        found = CODE.search(text)
        if found:
            return found.group(1)
    raise AssertionError(f"no code was sent to {address}")
