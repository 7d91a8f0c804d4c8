"""Fixed-window counters in DynamoDB (with TTL): attempt counts for lockouts, and sets of
distinct members for limits on how many different things an account may look up."""
from __future__ import annotations

from functools import partial

from chalicelib.adapters.dynamodb.errors import condition_failed
from chalicelib.adapters.dynamodb.models import CounterRecord, written
from chalicelib.domain.errors import ServiceUnavailable

# add_distinct retries only when another request changed the item between two of its steps
# (a window started or ended meanwhile); so many changes in a row means something is wrong.
DISTINCT_ATTEMPTS = 8


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
            if not condition_failed(exc):
                raise
        try:  # no live window: start one (racing starters: one wins, the others add)
            CounterRecord(key=key).update(
                actions=[CounterRecord.failures.set(1), CounterRecord.window_ends.set(now + window),
                         CounterRecord.expires_at.set(now + window + 3600)],
                condition=CounterRecord.key.does_not_exist() | (CounterRecord.window_ends <= now))
            return 1, now + window
        except UpdateError as exc:
            if not condition_failed(exc):
                raise
        return self.hit(key, now, window)

    def clear(self, key: str) -> None:
        CounterRecord(key=key).delete()

    def add_distinct(self, key: str, member: str, now: int, window: int, limit: int) -> tuple[bool, int]:
        """The member joins the live window's string set in ONE conditional ADD: `size(seen) <
        limit OR contains(seen, member)` is checked by DynamoDB with the write, so however many
        requests race, the set never grows past `limit` (a check made on a read first would let
        each racer see room). ADD of a member the set holds changes nothing: a retry counts once."""
        from pynamodb.expressions.condition import size
        from pynamodb.expressions.update import Action

        seen = CounterRecord.seen
        room = (CounterRecord.window_ends > now) & (
            seen.does_not_exist() | (size(seen) < limit) | seen.contains(member))
        no_live_window = CounterRecord.key.does_not_exist() | (CounterRecord.window_ends <= now)
        start: list[Action] = [seen.set({member}), CounterRecord.window_ends.set(now + window),
                 CounterRecord.expires_at.set(now + window + 3600)]
        for _ in range(DISTINCT_ATTEMPTS):
            record = CounterRecord(key=key)  # update() loads the new values into it
            if written(partial(record.update, actions=[seen.add({member})], condition=room)):
                return True, int(record.window_ends)
            # No live window: start one holding only this member (of racing starters one wins;
            # the others go round again and add to its set).
            if written(partial(CounterRecord(key=key).update, actions=start, condition=no_live_window)):
                return True, now + window
            # A live window refused the member: full of others, unless it changed in between.
            live = CounterRecord.find(key)
            if live is not None and int(live.window_ends) > now:
                members = live.seen or set()
                if member not in members and len(members) >= limit:
                    return False, int(live.window_ends)
        raise ServiceUnavailable("The request could not be counted; try again.")

    def admits(self, key: str, member: str, now: int, limit: int) -> tuple[bool, int]:
        r = CounterRecord.find(key)
        if r is None or int(r.window_ends) <= now:
            return True, 0
        members = r.seen or set()
        return member in members or len(members) < limit, int(r.window_ends)
