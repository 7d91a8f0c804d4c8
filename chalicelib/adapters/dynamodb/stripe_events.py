"""Repository of received Stripe events (de-duplication by event id)."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chalicelib.adapters.dynamodb.models import StripeEventRecord, written

# Stripe retries a webhook for up to three days; keep ids well beyond that.
RETENTION = timedelta(days=30)


class DynamoStripeEventLog:
    def record_received(self, event_id: str, type_: str, object_id: str | None) -> bool:
        """Record the event; False when it was already recorded (a duplicate delivery)."""
        now = datetime.now(UTC)
        item = StripeEventRecord(event_id=event_id, type=type_, object_id=object_id, status="received",
                                 received_at=now.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                                 expires_at=int((now + RETENTION).timestamp()))
        return written(lambda: item.save(condition=StripeEventRecord.event_id.does_not_exist()))

    def get(self, event_id: str) -> StripeEventRecord | None:
        return StripeEventRecord.find(event_id)

    def status_of(self, event_id: str) -> str | None:
        record = self.get(event_id)
        return None if record is None else str(record.status)

    def mark_applied(self, event_id: str, outcome: str) -> None:
        StripeEventRecord(event_id=event_id).update(actions=[StripeEventRecord.status.set("applied"),
                                                             StripeEventRecord.outcome.set(outcome[:200])])
