"""Refresh-token families. Rotation is one conditional update: only the current token rotates."""
from __future__ import annotations

from typing import Any

from chalicelib.adapters.dynamodb.models import SessionRecord, written
from chalicelib.domain.ids import rfc3339
from chalicelib.domain.user import Session


def to_session(r: SessionRecord) -> Session:
    return Session(session_id=r.session_id, user_id=r.user_id, current_hash=r.current_hash,
                   generation=int(r.generation), status=r.status, expires_at=int(r.expires_at),
                   recent_hashes=[str(h) for h in (r.recent_hashes or ())], previous_hash=r.previous_hash,
                   rotated_at=int(r.rotated_at or 0), created_at=r.created_at,
                   last_used_at=r.last_used_at or r.created_at, user_agent=r.user_agent, device_key=r.device_key,
                   new_device=bool(r.new_device), auth_epoch=int(r.auth_epoch or 0))


class DynamoSessions:
    def create(self, session: Session, created_at: str) -> None:
        # The insert is what the notifications stream reads (a sign-in from a new device).
        SessionRecord(session_id=session.session_id, user_id=session.user_id, current_hash=session.current_hash,
                      generation=session.generation, status="active", created_at=created_at,
                      last_used_at=session.last_used_at or created_at, user_agent=session.user_agent,
                      device_key=session.device_key, new_device=session.new_device,
                      auth_epoch=session.auth_epoch, expires_at=session.expires_at,
                      ).save(condition=SessionRecord.session_id.does_not_exist())

    def get(self, session_id: str) -> Session | None:
        r = SessionRecord.find(session_id)
        return to_session(r) if r else None

    def rotate(self, session_id: str, expected_current: str, new_hash: str, recent: list[str], now: int,
               retired: str | None = None) -> bool:
        """Make `new_hash` the current token, unless the current one is no longer
        `expected_current` (a concurrent rotation won) or the login ended. `recent` replaces the
        bounded list of used hashes; `retired` (a normal rotation) starts the grace period."""
        actions: list[Any] = [SessionRecord.current_hash.set(new_hash), SessionRecord.generation.add(1),
                              SessionRecord.recent_hashes.set(recent),  # type: ignore[arg-type]
                              SessionRecord.last_used_at.set(rfc3339(now))]
        if retired is not None:
            actions += [SessionRecord.previous_hash.set(retired), SessionRecord.rotated_at.set(now)]
        return written(lambda: SessionRecord(session_id=session_id).update(
            actions=actions,
            condition=(SessionRecord.current_hash == expected_current) & (SessionRecord.status == "active")
            & (SessionRecord.expires_at > now)))

    def revoke(self, session_id: str) -> None:
        # No such session: nothing to revoke.
        written(lambda: SessionRecord(session_id=session_id).update(actions=[SessionRecord.status.set("revoked")],
                                                                    condition=SessionRecord.session_id.exists()))

    def revoke_all(self, user_id: str) -> int:
        count = 0
        for record in SessionRecord.by_user.query(user_id):
            if record.status == "active":
                self.revoke(record.session_id)
                count += 1
        return count

    def live_of(self, user_id: str, now: int) -> list[Session]:
        """The user's logins still honoured at `now` (one query of the by-user index)."""
        return [s for s in map(to_session, SessionRecord.by_user.query(user_id)) if s.active_at(now)]

    def is_active(self, session_id: str, now: int) -> bool:
        session = self.get(session_id)
        return session is not None and session.active_at(now)
