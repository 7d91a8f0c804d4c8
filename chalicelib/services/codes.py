"""Issue and check one-time codes (verification and password reset)."""
from __future__ import annotations

import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass

from chalicelib.domain.errors import CodeExpired, InvalidCode
from chalicelib.domain.user import CodeProof
from chalicelib.domain.verification import Purpose, StoredCode, code_material, new_code, well_formed
from chalicelib.services.ports import Clock, CodeStore


@dataclass(frozen=True)
class OneTimeCodes:
    store: CodeStore
    mac: Callable[[str], str]  # the keyed hash: a table dump never gives a code away
    now: Clock = time.time

    def issue(self, purpose: Purpose, subject: str, target: str, ttl: int) -> str:
        """A new code for (purpose, subject), sent to `target` (a contact's identity key); it
        replaces the live one."""
        code = new_code()
        self.store.issue(StoredCode(key=f"{purpose}#{subject}", target=target, expires_at=int(self.now()) + ttl,
                                    code_hash=self.mac(code_material(purpose, subject, target, code))))
        return code

    def check(self, purpose: Purpose, subject: str, target: str, code: object, *,
              never_sent_is_wrong: bool = False) -> CodeProof:
        """The proof that `code` is the live code for `target`, to consume with what it proves.

        Every try counts before anything is compared (MAX_TRIES per code, concurrency-safe).
        InvalidCode: wrong. CodeExpired: past its time, burned, replaced by a newer code, sent
        to a contact the account no longer has, or never sent (unless `never_sent_is_wrong`:
        a password reset answers an unknown e-mail exactly like a wrong code)."""
        stored, issued = self.store.attempt(f"{purpose}#{subject}", int(self.now()))
        if stored is None:
            if not issued and never_sent_is_wrong:
                raise InvalidCode()
            raise CodeExpired()
        presented = self.mac(code_material(purpose, subject, target, str(code))) if well_formed(code) else ""
        if presented and hmac.compare_digest(presented, stored.code_hash):
            return CodeProof(stored.key, stored.code_hash)
        if stored.target != target or (presented and presented in stored.replaced):
            raise CodeExpired()
        raise InvalidCode()
