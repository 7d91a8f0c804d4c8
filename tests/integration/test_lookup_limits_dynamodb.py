"""The distinct-member counter on DynamoDB Local (issue 26, attack 4): however many requests
race, never more than `limit` distinct members are admitted in a window, and a member admitted
once stays free."""
from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from chalicelib.adapters.dynamodb.counters import DynamoCounters
from chalicelib.adapters.dynamodb.models import CounterRecord

LIMIT, WINDOW = 30, 3600


def test_racing_adds_of_distinct_members_never_admit_more_than_the_limit(bound):
    counters, key, now = DynamoCounters(), f"it-distinct#{uuid.uuid4().hex}", int(time.time())
    members = [f"email#{uuid.uuid4().hex}" for _ in range(120)]
    # From no item at all: the racers also race to start the window.
    with ThreadPoolExecutor(24) as pool:
        answers = list(pool.map(lambda m: counters.add_distinct(key, m, now, WINDOW, LIMIT), members))
    admitted = [m for m, (ok, _) in zip(members, answers, strict=True) if ok]
    assert len(admitted) == LIMIT
    assert {ends for _, ends in answers} == {now + WINDOW}  # one window, the refused told its end
    record = CounterRecord.find(key)
    assert record is not None and record.seen == set(admitted)
    assert int(record.expires_at) > now + WINDOW  # TTL after the window
    # A member admitted before is free, even from many racers at once; a new one is not.
    with ThreadPoolExecutor(24) as pool:
        again = list(pool.map(lambda m: counters.add_distinct(key, m, now + 5, WINDOW, LIMIT), admitted * 3))
    assert all(ok for ok, _ in again)
    assert counters.add_distinct(key, "email#new", now + 5, WINDOW, LIMIT) == (False, now + WINDOW)
    assert counters.admits(key, admitted[0], now + 5, LIMIT) == (True, now + WINDOW)
    assert counters.admits(key, "email#new", now + 5, LIMIT) == (False, now + WINDOW)
    assert CounterRecord.find(key).seen == set(admitted)  # type: ignore[union-attr]
    # The next window starts empty, with racers again.
    later = now + WINDOW
    fresh = [f"phone#{uuid.uuid4().hex}" for _ in range(40)]
    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda m: counters.add_distinct(key, m, later, WINDOW, LIMIT), fresh))
    assert sum(ok for ok, _ in answers) == LIMIT
    assert CounterRecord.find(key).seen <= set(fresh)  # type: ignore[union-attr,operator]
    assert counters.admits(key, "x", later + WINDOW, LIMIT) == (True, 0)


def test_repeating_one_member_counts_it_once(bound):
    counters, key, now = DynamoCounters(), f"it-distinct#{uuid.uuid4().hex}", int(time.time())
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: counters.add_distinct(key, "email#same", now, WINDOW, 2), range(16)))
    assert all(ok for ok, _ in answers)
    assert counters.add_distinct(key, "email#other", now, WINDOW, 2)[0]
    assert not counters.add_distinct(key, "email#third", now, WINDOW, 2)[0]
    assert CounterRecord.find(key).seen == {"email#same", "email#other"}  # type: ignore[union-attr]
