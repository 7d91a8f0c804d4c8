"""bcrypt password hashing (cost >= 12).

The password is always pre-hashed (SHA-256, base64) before bcrypt: bcrypt reads at most 72 bytes
(bcrypt 5 refuses longer input), and a long passphrase must never be silently truncated. Base64
also keeps NUL bytes, which bcrypt cannot take, out of its input.
"""
from __future__ import annotations

import base64
import hashlib


def _prehash(password: str) -> bytes:
    return base64.b64encode(hashlib.sha256(password.encode("utf-8")).digest())


class BcryptHasher:
    def __init__(self, rounds: int = 12) -> None:
        self.rounds = rounds
        self._dummy: bytes | None = None

    def hash(self, password: str) -> str:
        import bcrypt

        return bcrypt.hashpw(_prehash(password), bcrypt.gensalt(self.rounds)).decode("ascii")

    def verify(self, password: str, hashed: str | None) -> bool:
        """Constant-effort check: an absent hash costs one bcrypt too (no user enumeration)."""
        import bcrypt

        if hashed is None:
            if self._dummy is None:
                self._dummy = bcrypt.hashpw(b"dummy", bcrypt.gensalt(self.rounds))
            bcrypt.checkpw(_prehash(password), self._dummy)
            return False
        return bcrypt.checkpw(_prehash(password), hashed.encode("ascii"))
