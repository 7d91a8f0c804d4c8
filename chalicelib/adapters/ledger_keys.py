"""The ledger key: signs checkpoints (a Merkle root over every chain head, docs/statements.md).

A key of its own (never the access-token or offline key): whoever holds it can vouch for a
ledger's history, so only the function that makes checkpoints reads it. Its public half is
published at /.well-known/ledger-keys.json; a retired key stays in that JWKS for as long as
checkpoints it signed may be checked (LEDGER_RETIRED_PUBLIC_KEYS).
"""
from __future__ import annotations

from typing import Any

from chalicelib.adapters.signing_keys import ALGORITHMS, Ed25519KeyRing
from chalicelib.domain.statements import CHECKPOINT_TYP


class LedgerKeys(Ed25519KeyRing):
    def __init__(self, private_pem: str, retired_public_pems: tuple[str, ...] = ()) -> None:
        super().__init__(private_pem, retired_public_pems, what="ledger signing")

    def sign_checkpoint(self, claims: dict[str, Any]) -> str:
        return self._sign(claims, CHECKPOINT_TYP)

    def checkpoint_claims(self, jws: str) -> dict[str, Any] | None:
        import jwt

        try:
            key = self._key_for(jws, CHECKPOINT_TYP)
            if key is None:
                return None
            claims: dict[str, Any] = jwt.decode(jws, key, algorithms=ALGORITHMS,
                                                options={"verify_exp": False, "verify_aud": False})
        except (jwt.PyJWTError, ValueError, TypeError):
            return None
        return claims
