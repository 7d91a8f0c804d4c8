"""E-mail addresses and phone numbers: validated and normalized before anything stores them.

Normalization decides identity: the look-up key (`email_lookup_key`) of an e-mail is
case-insensitive for ASCII as people expect, and built on the domain's canonical ASCII (IDNA)
form, so look-alike Unicode domains never share a key; the address shown back keeps the local
part as it was typed.
"""
from __future__ import annotations

import unicodedata
from collections.abc import Callable

from chalicelib.domain.errors import InvalidRequest


def normalize_email(raw: str, field: str = "email") -> str:
    from email_validator import EmailNotValidError, validate_email

    try:
        # No deliverability (DNS) check: no network at request time, and a typo'd domain is
        # caught by the user never receiving mail, not by us.
        # No SMTPUTF8: Amazon SES cannot deliver to a non-ASCII local part, and an address we
        # cannot send a code to can never be verified. International domains are fine (IDNA).
        return validate_email(raw.strip(), check_deliverability=False, allow_smtputf8=False).normalized
    except EmailNotValidError as exc:
        raise InvalidRequest("The e-mail address is not valid.",
                             details=[{"field": field, "message": str(exc)}]) from None


def normalize_phone(raw: str, field: str = "phone") -> str:
    """E.164 (+6591234567); the number must be in international form and valid for its region."""
    import phonenumbers

    try:
        number = phonenumbers.parse(raw.strip(), None)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise InvalidRequest("The phone number is not valid.", details=[
            {"field": field, "message": "must be a valid number in international form, e.g. +6591234567"}])
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def email_lookup_key(normalized: str) -> str:
    """The look-up key of a normalized address (`normalize_email`): what decides that two
    addresses are one identity, so two addresses share a key only if they reach one mailbox.

    - The domain is its canonical ASCII form: IDNA 2008 with the UTS #46 mapping, NOT the
      transitional one (so "glaß.com" is xn--gla-7ka.com, a domain of its own, never
      "glass.com"), then lowercased. `casefold()` of a Unicode domain must never be used: it
      folds distinct registrable domains together (ß -> ss, and more).
    - The local part is lowercased only if it is ASCII (people expect Ada@ and ada@ to be
      one). A non-ASCII local part (normalize_email refuses them today) is kept as it is,
      NFC-normalized, and never case-folded: folding could map it onto an ASCII look-alike.

    For an all-ASCII address the key is exactly "email:" + address.lower() (the keys stored
    before this rule; tests pin them)."""
    local, _, domain = normalized.rpartition("@")
    local = local.lower() if local.isascii() else unicodedata.normalize("NFC", local)
    if domain.isascii():
        domain = domain.lower()
    else:
        import idna

        try:
            domain = idna.encode(domain, uts46=True, transitional=False).decode("ascii").lower()
        except idna.IDNAError:
            raise InvalidRequest("The e-mail address is not valid.", details=[
                {"field": "email", "message": "the domain is not a valid international domain name"}]) from None
    return f"email:{local}@{domain}"


def phone_lookup_key(e164: str) -> str:
    return "phone:" + e164


def identity_key(lookup_key: str, mac: Callable[[str], str]) -> str:
    """The identity item's key of a contact ("email#<hmac>", "phone#<hmac>"): a keyed hash, so
    the table never holds the plain address (a blind index)."""
    kind = lookup_key.split(":", 1)[0]
    return f"{kind}#{mac(lookup_key)}"
