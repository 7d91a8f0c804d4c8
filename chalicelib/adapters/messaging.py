"""E-mail through Amazon SES and SMS through Amazon SNS (moto records both locally).

Only the address and the message leave here; neither is ever logged (no personal data in logs).
"""
from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import Any

from chalicelib.domain.messages import Message


class AwsMessenger:
    """Each client is made on its first use: an e-mail never pays for an SNS client."""

    def __init__(self, client: Callable[[str], Any], sender: str) -> None:
        self._client, self._sender = client, sender

    @cached_property
    def _ses(self) -> Any:
        return self._client("ses")

    @cached_property
    def _sns(self) -> Any:
        return self._client("sns")

    def send_email(self, to: str, message: Message) -> None:
        local, _, domain = to.rpartition("@")
        to = f"{local}@{domain.encode('idna').decode('ascii')}"  # SES takes ASCII: IDN domains as punycode
        self._ses.send_email(Source=self._sender, Destination={"ToAddresses": [to]}, Message={
            "Subject": {"Data": message.subject, "Charset": "UTF-8"},
            "Body": {"Text": {"Data": message.text, "Charset": "UTF-8"}}})

    def send_sms(self, to: str, message: Message) -> None:
        # Transactional: codes must arrive now, and AWS delivers them ahead of promotional SMS.
        self._sns.publish(PhoneNumber=to, Message=message.text, MessageAttributes={
            "AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"}})
