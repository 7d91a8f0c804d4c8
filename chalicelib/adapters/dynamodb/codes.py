"""One-time codes in DynamoDB: one live code per (purpose, subject), tries counted atomically."""
from __future__ import annotations

from chalicelib.adapters.dynamodb.errors import condition_failed
from chalicelib.adapters.dynamodb.models import CodeRecord
from chalicelib.domain.verification import KEEP_REPLACED, MAX_TRIES, StoredCode

PURGE_AFTER = 86400  # the item outlives its code by a day (a late try still answers "expired")


def _code(r: CodeRecord) -> StoredCode:
    return StoredCode(key=r.key, code_hash=r.code_hash, target=r.target, expires_at=int(r.expires_at),
                      tries=int(r.tries or 0), replaced=[str(h) for h in r.replaced or ()])


class DynamoCodes:
    def issue(self, code: StoredCode) -> None:
        """Store a new code; the one it replaces joins the (bounded) list of replaced codes."""
        old = CodeRecord.find(code.key)
        replaced = [*(old.replaced or ()), old.code_hash][-KEEP_REPLACED:] if old else []
        CodeRecord(key=code.key, code_hash=code.code_hash, target=code.target, expires_at=code.expires_at,
                   tries=0, replaced=replaced or None, purge_at=code.expires_at + PURGE_AFTER).save()

    def attempt(self, key: str, now: int) -> tuple[StoredCode | None, bool]:
        """Count one try, atomically, before anything is compared: (the code, True) while it may
        still be used; (None, whether a code was ever issued) once it is expired or burned."""
        from pynamodb.exceptions import UpdateError

        record = CodeRecord(key=key)
        try:
            record.update(actions=[CodeRecord.tries.add(1)],
                          condition=CodeRecord.key.exists() & (CodeRecord.tries < MAX_TRIES)
                          & (CodeRecord.expires_at > now))
            return _code(record), True
        except UpdateError as exc:
            if not condition_failed(exc):
                raise
        return None, CodeRecord.find(key) is not None
