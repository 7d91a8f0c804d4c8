"""The texts the product sends by e-mail and SMS.

Short, naming the product, and holding nothing secret but the one code they carry: never a
password, a token, a balance or a memo. An invitation names the sender's display name (the
person invited needs to know who is paying them), the amount and the expiry, and nothing else.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

PRODUCT = "E-Wallet"


@dataclass(frozen=True)
class Message:
    subject: str  # e-mail only
    text: str


def verification(code: str, minutes: int) -> Message:
    return Message(f"{PRODUCT} verification code",
                   f"{PRODUCT}: your verification code is {code}. It expires in {minutes} minutes. "
                   "Never share it with anyone.")


def password_reset(code: str, minutes: int) -> Message:
    return Message(f"{PRODUCT} password reset",
                   f"{PRODUCT}: your password reset code is {code}. It expires in {minutes} minutes. "
                   "If you did not ask for it, ignore this message: your password stays the same.")


def display_name(first: str | None, last: str | None) -> str:
    """The sender as an invitation names them: their own names, cleaned (`party.clean_name`)."""
    from chalicelib.domain.party import clean_name

    return clean_name(" ".join(part for part in (first, last) if part)) or "Someone"


def invitation(sender: str, amount: str, until: str) -> Message:
    return Message(f"{sender} sent you {amount} on {PRODUCT}",
                   f"{sender} sent you {amount} on {PRODUCT}. Sign up and verify this address "
                   f"before {until} to receive it.")


# The most of a client's User-Agent a new sign-in e-mail quotes: whoever signs in chooses it.
MAIL_USER_AGENT = 120


def quoted_client(user_agent: str | None) -> str:
    """A client's User-Agent as plain text for a message: at most `MAIL_USER_AGENT` characters,
    no quotes or angle brackets, and nothing a mail client would turn into a link (a scheme's
    "://", "www.", a dot before a letter as in a host name, "@"); version numbers stay."""
    text = "".join(ch for ch in (user_agent or "") if ch.isprintable() and ch not in '"<>`')
    text = text.replace("://", ":/ /").replace("@", " at ")
    text = re.sub(r"\.(?=[A-Za-z])", " .", text)
    return " ".join(text.split())[:MAIL_USER_AGENT].strip()


def new_sign_in(at: str, user_agent: str | None) -> Message:
    """A login from a device the account had not used: when, and the client as it named itself
    (`quoted_client`: the signer chose it, so it is never a link). No place, no address: the
    owner needs to know it happened and what to do, not more than the inbox shows."""
    client = f' (the client called itself "{quoted}")' if (quoted := quoted_client(user_agent)) else ""
    return Message(f"New sign-in to your {PRODUCT} account",
                   f"{PRODUCT}: your account was signed in to at {at} from a new device{client}. If this was "
                   "not you, reset your password and sign out your other sessions under Security.")
