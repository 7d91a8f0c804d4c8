"""The password policy: 10..128 characters and not a well-known common password."""
from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from chalicelib.domain.errors import InvalidRequest

MIN_LENGTH, MAX_LENGTH = 10, 128
_LIST = Path(__file__).resolve().parent.parent / "data" / "common-passwords.txt"
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s", "!": "i"})
_SEQUENCES = ("0123456789", "9876543210", "abcdefghijklmnopqrstuvwxyz", "qwertyuiop", "asdfghjkl",
              "zxcvbnm", "qwertzuiop", "azertyuiop")


@lru_cache(maxsize=1)
def _common() -> frozenset[str]:
    lines = _LIST.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip().casefold() for line in lines if line.strip() and not line.startswith("#"))


def _is_trivial(value: str) -> bool:
    """One repeated character, or a run of a keyboard/alphabet sequence."""
    if len(set(value)) <= 2:
        return True
    return any(value in seq * 3 for seq in _SEQUENCES)


def is_common(password: str) -> bool:
    folded = password.casefold()
    common = _common()
    if folded in common or _is_trivial(folded):
        return True
    core = re.sub(r"^[\W\d_]+|[\W\d_]+$", "", folded)  # password123! -> password
    if not core:
        return False
    candidates = {core, core.translate(_LEET), folded.translate(_LEET)}
    candidates |= {re.sub(r"^[\W\d_]+|[\W\d_]+$", "", c) for c in list(candidates)}
    candidates |= {c.replace(" ", "") for c in list(candidates)}
    return any(c in common or (c and _is_trivial(c)) for c in candidates)


def check_password(password: str, field: str = "password") -> None:
    """Raise `InvalidRequest` naming `field` unless the password meets the policy."""
    problem = None
    if not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        problem = f"must be {MIN_LENGTH} to {MAX_LENGTH} characters long"
    elif is_common(password):
        problem = "is too common: choose a password that is not on lists of leaked passwords"
    if problem:
        raise InvalidRequest(f"The password {problem}.", details=[{"field": field, "message": problem}])
