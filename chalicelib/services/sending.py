"""Sending a message through the `Messenger` port, for the services that must not fail with it."""
from __future__ import annotations

import logging

from chalicelib import observability
from chalicelib.domain.messages import Message
from chalicelib.services.ports import FieldCipher, Messenger, UserDirectory

log = logging.getLogger(__name__)


def send(messenger: Messenger, channel: str, address: str, message: Message, *, what: str) -> bool:
    """Send by e-mail or SMS (`channel` "email" | "phone"); False if the provider failed. The
    failure is counted (`<what>NotSent`) and logged by its type only: a provider's error text
    may quote the address, which never reaches a log."""
    try:
        if channel == "email":
            messenger.send_email(address, message)
        else:
            messenger.send_sms(address, message)
    except Exception as exc:  # noqa: BLE001 - any failure of the provider: the caller decides
        log.warning("%s not sent: %s", what, type(exc).__name__)
        observability.count(f"{what}NotSent")
        return False
    return True


def email_account(users: UserDirectory, cipher: FieldCipher, messenger: Messenger, user_id: str, message: Message,
                  *, what: str) -> bool:
    """E-mail an account at its verified address (an unproven one may be anyone's); False if it
    has none or the provider failed."""
    user = users.get(user_id)
    if user is None or not user.email_verified or not user.email_ct:
        return False
    return send(messenger, "email", cipher.decrypt(user.email_ct, user_id, "email"), message, what=what)
