"""Refresh-token families. Rotation is one conditional update: only the current token rotates."""
from __future__ import annotations

from chalicelib.adapters.dynamodb.models import SessionRecord
from chalicelib.domain.user import Session


def _to_session(r: SessionRecord) -> Session:
    return Session(session_id=r.session_id, user_id=r.user_id, current_hash=r.current_hash,
                   generation=int(r.generation), status=r.status, expires_at=int(r.expires_at),
                   used_hashes=set(r.used_hashes or ()))


class DynamoSessions:
    def create(self, session: Session, created_at: str) -> None:
        SessionRecord(session_id=session.session_id, user_id=session.user_id, current_hash=session.current_hash,
                      generation=session.generation, status="active", created_at=created_at,
                      expires_at=session.expires_at).save(condition=SessionRecord.session_id.does_not_exist())

    def get(self, session_id: str) -> Session | None:
        try:
            return _to_session(SessionRecord.get(session_id, consistent_read=True))
        except SessionRecord.DoesNotExist:
            return None

    def rotate(self, session_id: str, presented_hash: str, new_hash: str, now: int) -> bool:
        """Replace the current token by a new one; False unless `presented_hash` is current and live."""
        from pynamodb.exceptions import UpdateError

        try:
            SessionRecord(session_id=session_id).update(
                actions=[SessionRecord.current_hash.set(new_hash), SessionRecord.generation.add(1),
                         SessionRecord.used_hashes.add({presented_hash})],
                condition=(SessionRecord.current_hash == presented_hash) & (SessionRecord.status == "active")
                & (SessionRecord.expires_at > now))
        except UpdateError as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def revoke(self, session_id: str) -> None:
        from pynamodb.exceptions import UpdateError

        try:
            SessionRecord(session_id=session_id).update(actions=[SessionRecord.status.set("revoked")],
                                                        condition=SessionRecord.session_id.exists())
        except UpdateError as exc:
            if exc.cause_response_code != "ConditionalCheckFailedException":
                raise

    def revoke_all(self, user_id: str) -> int:
        count = 0
        for record in SessionRecord.by_user.query(user_id):
            if record.status == "active":
                self.revoke(record.session_id)
                count += 1
        return count

    def is_active(self, session_id: str, now: int) -> bool:
        session = self.get(session_id)
        return session is not None and session.status == "active" and session.expires_at > now
