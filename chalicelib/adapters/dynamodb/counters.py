"""Fixed-window attempt counters in DynamoDB (with TTL), for lockouts."""
from __future__ import annotations

from chalicelib.adapters.dynamodb.models import CounterRecord


class DynamoCounters:
    def current(self, key: str, now: int) -> tuple[int, int]:
        """(failures in the live window, second the window ends); (0, 0) if none is live."""
        r = CounterRecord.find(key)
        if r is None or int(r.window_ends) <= now:
            return 0, 0
        return int(r.failures), int(r.window_ends)

    def hit(self, key: str, now: int, window: int) -> tuple[int, int]:
        """Count one failure atomically; returns the window's count and end."""
        from pynamodb.exceptions import UpdateError

        record = CounterRecord(key=key)
        try:  # inside a live window: add one (update() loads the new values into `record`)
            record.update(actions=[CounterRecord.failures.add(1)], condition=CounterRecord.window_ends > now)
            return int(record.failures), int(record.window_ends)
        except UpdateError as exc:
            if exc.cause_response_code != "ConditionalCheckFailedException":
                raise
        try:  # no live window: start one (racing starters: one wins, the others add)
            CounterRecord(key=key).update(
                actions=[CounterRecord.failures.set(1), CounterRecord.window_ends.set(now + window),
                         CounterRecord.expires_at.set(now + window + 3600)],
                condition=CounterRecord.key.does_not_exist() | (CounterRecord.window_ends <= now))
            return 1, now + window
        except UpdateError as exc:
            if exc.cause_response_code != "ConditionalCheckFailedException":
                raise
        return self.hit(key, now, window)

    def clear(self, key: str) -> None:
        CounterRecord(key=key).delete()
