"""One-time codes that prove a contact (verification) or an e-mail (password reset).

A code is 6 digits from a CSPRNG. Only a keyed hash of it is stored, bound to its purpose, its
subject (the account, or the e-mail for a reset) and the contact it was sent to, so a code sent
to an old phone number never verifies a new one. It is single use, valid for a few minutes,
replaced by the next send, and burned after `MAX_TRIES` tries.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from enum import StrEnum

CODE_DIGITS = 6
MAX_TRIES = 5  # tries per code, right or wrong: the sixth is refused whatever it holds
USED = MAX_TRIES + 1  # the tries count of a consumed code: no try is left
KEEP_REPLACED = 5  # replaced codes remembered, so typing one answers "expired", not "wrong"
VERIFY_TTL = 10 * 60
RESET_TTL = 15 * 60
SENDS_PER_HOUR = 5  # per account and channel
CONTACT_SENDS_PER_HOUR = 10  # per contact, whichever accounts ask
TRIES_PER_DAY = 20  # code tries per contact (or per e-mail for resets), across codes and accounts
INVITES_PER_HOUR = 20  # invitations a sender may make
INVITATION_MESSAGES_PER_DAY = 3  # invitation messages one contact may receive


class Channel(StrEnum):
    EMAIL = "email"
    PHONE = "phone"


class Purpose(StrEnum):
    VERIFY_EMAIL = "verify-email"
    VERIFY_PHONE = "verify-phone"
    RESET = "reset"


def purpose_for(channel: Channel) -> Purpose:
    return Purpose.VERIFY_EMAIL if channel is Channel.EMAIL else Purpose.VERIFY_PHONE


def new_code() -> str:
    return f"{secrets.randbelow(10 ** CODE_DIGITS):0{CODE_DIGITS}d}"


def code_material(purpose: Purpose, subject: str, target: str, code: str) -> str:
    """What the keyed hash of a code is computed over: a code is only ever good for this
    purpose, this subject and this contact."""
    return f"code:{purpose}:{subject}:{target}:{code}"


def well_formed(code: object) -> bool:
    return isinstance(code, str) and len(code) == CODE_DIGITS and code.isascii() and code.isdigit()


@dataclass
class StoredCode:
    """A code as the store keeps it: hashes only."""

    key: str  # <purpose>#<subject>
    code_hash: str
    target: str  # keyed hash of the contact the code went to
    expires_at: int
    tries: int = 0
    replaced: list[str] = field(default_factory=list)


def mask_email(email: str) -> str:
    """a***@example.com: enough for the owner to recognise, nothing for anyone else."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"


def mask_phone(e164: str) -> str:
    """+65 ****1234: the country code and the last four digits."""
    import phonenumbers

    try:
        country = str(phonenumbers.parse(e164, None).country_code)
    except phonenumbers.NumberParseException:
        country = e164[1:3]
    return f"+{country} ****{e164[-4:]}"
