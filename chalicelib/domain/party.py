"""How one person is shown to another: a user id and a display name, never a contact."""
from __future__ import annotations

import re

_NOT_NAME = re.compile(r"[^\w .'-]|[\d_]|\.(?=\w)")  # no digits, no dot inside a word (a host)


def clean_name(text: str, limit: int = 40) -> str:
    """Letters, spaces, dots, hyphens and apostrophes only, short: a name can carry no link or
    message of its owner's choosing into what we show or send to someone else."""
    text = _NOT_NAME.sub("", text)
    return re.sub(r"\s+", " ", text).strip()[:limit].strip()


def public_name(first: str | None, last: str | None) -> str | None:
    """First name and last initial ("Ada L."), or None without a first name."""
    given = clean_name(first or "", 30)
    if not given:
        return None
    family = clean_name(last or "")
    initial = next((ch for ch in family if ch.isalpha()), "")
    return f"{given} {initial.upper()}." if initial else given
