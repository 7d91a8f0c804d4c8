"""Who someone is, as another user may see them: `{user_id, display_name}` (guarantee 13).

Names are stored encrypted; this is the one place that opens them for showing to others.
A `People` lives for one request or one batch, so a list naming the same person many times
decrypts their name once, and a renamed person shows the new name on the next request.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from chalicelib.domain.party import public_name
from chalicelib.domain.results import PartyView
from chalicelib.services.ports import FieldCipher, UserDirectory


@dataclass
class People:
    users: UserDirectory
    cipher: FieldCipher
    _seen: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)

    def names(self, user_id: str) -> tuple[str | None, str | None]:
        """(first, last) as the person gave them; (None, None) for no such user."""
        if user_id not in self._seen:
            user = self.users.get(user_id)
            first, last = (self.cipher.decrypt(ct, user_id, name) if user is not None and (
                ct := getattr(user, f"{name}_ct")) else None for name in ("first_name", "last_name"))
            self._seen[user_id] = (first, last)
        return self._seen[user_id]

    def party(self, user_id: str) -> PartyView:
        return {"user_id": user_id, "display_name": public_name(*self.names(user_id))}
