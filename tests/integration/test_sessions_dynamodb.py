"""Logins on DynamoDB Local (issue 26): what a session records, listing and ending them, the
first sign-in set once, and the sessions stream telling of a sign-in from a new device exactly
once, however often the stream hands the record over."""
from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from chalicelib.adapters.dynamodb.stream import changes
from chalicelib.domain.contact import email_lookup_key, identity_key
from chalicelib.domain.ids import rfc3339
from chalicelib.domain.notification import notification_id
from tests.integration.test_notifications_dynamodb import stream_records

PASSWORD = "correct horse battery staple 42"


def verified_person(c) -> tuple[str, str]:
    address = f"it.{uuid.uuid4().hex[:10]}@example.com"
    user_id = c.identity.register(address, PASSWORD).user_id
    c.users.confirm_email(user_id, identity_key(email_lookup_key(address), c.blind_index), None)
    return user_id, address


def sid(pair) -> str:
    return str(pair.refresh_token.split(".")[1])


def test_a_session_records_its_client_and_use_and_lists_and_ends(stack_container):
    c = stack_container
    user_id, address = verified_person(c)
    first = c.identity.login(PASSWORD, email=address, user_agent="Agent/1 " + "x" * 300)
    second = c.identity.login(PASSWORD, email=address, device_token=first.device_token)
    s1, s2 = c.sessions.get(sid(first)), c.sessions.get(sid(second))
    assert s1.user_agent.startswith("Agent/1") and len(s1.user_agent) == 256 and s1.last_used_at == s1.created_at
    assert s1.device_key and s1.device_key == s2.device_key and not s1.new_device and not s2.new_device
    later = int(time.time()) + 86400
    assert c.sessions.rotate(s1.session_id, s1.current_hash, "h2", [], later, retired=s1.current_hash)
    assert c.sessions.get(s1.session_id).last_used_at == rfc3339(later) > s1.created_at
    me = c.identity.verify_access(second.access_token)
    assert {v.session_id: v.current for v in c.identity.sessions_of(me)} == {s1.session_id: False, s2.session_id: True}
    c.identity.end_other_sessions(me)
    assert [s.session_id for s in c.sessions.live_of(user_id, 0)] == [s2.session_id]
    assert c.sessions.get(s1.session_id).status == "revoked"


def test_the_first_sign_in_is_marked_once_under_concurrency(stack_container):
    c = stack_container
    user_id, _ = verified_person(c)
    with ThreadPoolExecutor(8) as pool:
        won = list(pool.map(lambda _: c.users.mark_signed_in(user_id, "2026-01-01T00:00:00.000Z"), range(8)))
    assert won.count(True) == 1 and c.users.get(user_id).signed_in_at == "2026-01-01T00:00:00.000Z"


def test_a_sign_in_from_a_new_device_is_told_once_from_the_sessions_stream(stack_container, stack_settings):
    c = stack_container
    user_id, address = verified_person(c)
    first = c.identity.login(PASSWORD, email=address)  # the very first: nothing to tell
    new = c.identity.login(PASSWORD, email=address, user_agent="Stranger/9")
    wanted = {sid(first), sid(new)}
    by_session: dict[str, dict] = {}
    for _ in range(20):  # each read starts from the stream's oldest record; wait for both inserts
        records = stream_records(stack_settings, "sessions",
                                 lambda r: r["eventName"] == "INSERT"
                                 and r["dynamodb"]["NewImage"]["session_id"]["S"] in wanted)
        by_session = {r["dynamodb"]["NewImage"]["session_id"]["S"]: r for r in records}
        if set(by_session) == wanted:
            break
        time.sleep(0.5)
    assert set(by_session) == wanted  # both inserts are in the stream
    replayed = [by_session[sid(new)], by_session[sid(first)], by_session[sid(new)]]
    c.notifications.handle(changes(replayed, stack_settings.table_prefix))
    c.notifications.handle(changes(replayed, stack_settings.table_prefix))
    items = [n for n in c.notifications.list(user_id, False, 100, None)["items"]
             if n["type"] == "security.new_sign_in"]
    assert len(items) == 1
    assert items[0]["notification_id"] == notification_id("security.new_sign_in", sid(new), user_id)
    assert set(items[0]["data"]) == {"signed_in_at", "user_agent"} and items[0]["data"]["user_agent"] == "Stranger/9"


def test_the_auth_epoch_moves_atomically_and_refuses_the_logins_signed_in_before(stack_container):
    # Review 26, F2: a login the by-user index did not list (or that raced the change) is
    # refused at its next refresh. Re-reviews 26b/26c: the move is one transaction, conditioned
    # on the epoch read and on the caller's login being active and current: of racing moves
    # from one read, exactly one wins; an ended or stale login moves nothing.
    from chalicelib.domain.errors import Unauthorized

    c = stack_container
    user_id, address = verified_person(c)
    owner = c.identity.login(PASSWORD, email=address)
    thief = c.identity.login(PASSWORD, email=address)
    assert c.sessions.get(sid(owner)).auth_epoch == 0

    def move(epoch: int, login: str = sid(owner), password_hash: str | None = None) -> bool:
        return bool(c.users.move_auth_epoch(user_id, epoch, session_id=login, keep=None, password_hash=password_hash))

    with ThreadPoolExecutor(8) as pool:
        moved = list(pool.map(lambda _: move(0), range(8)))
    assert moved.count(True) == 1 and c.users.get(user_id).auth_epoch == 1
    assert c.sessions.get(sid(owner)).auth_epoch == 1  # the caller's login, carried over with it
    assert not move(0)  # a stale read
    assert not move(1, sid(thief))  # a login stamped older
    assert move(1) and move(2) and c.users.get(user_id).auth_epoch == 3
    assert c.identity.refresh(owner.refresh_token)
    with pytest.raises(Unauthorized):
        c.identity.refresh(thief.refresh_token)
    assert c.sessions.get(sid(thief)).status == "revoked"
    c.sessions.revoke(sid(owner))
    assert not move(3, password_hash="not a real hash")  # an ended login changes no password
    again = c.identity.login(PASSWORD, email=address)
    assert move(3, sid(again), password_hash="not a real hash") and c.users.get(user_id).auth_epoch == 4
    assert c.sessions.get(sid(again)).auth_epoch == 3  # only checked: every login ends next


def test_a_device_token_is_trusted_until_the_auth_epoch_moves_but_the_callers_is_carried_over(stack_container):
    # Review 26, F7 and R4.
    c = stack_container
    user_id, address = verified_person(c)
    other = c.identity.login(PASSWORD, email=address)
    mine = c.identity.login(PASSWORD, email=address)
    again = c.identity.login(PASSWORD, email=address, device_token=mine.device_token)
    assert not c.sessions.get(sid(again)).new_device
    c.identity.end_other_sessions(c.identity.verify_access(again.access_token))
    stranger = c.identity.login(PASSWORD, email=address, device_token=other.device_token)
    assert c.sessions.get(sid(stranger)).new_device
    after = c.identity.login(PASSWORD, email=address, device_token=again.device_token)
    assert not c.sessions.get(sid(after)).new_device
    me = c.identity.verify_access(after.access_token)
    c.identity.change_password(user_id, PASSWORD, PASSWORD + "!", session_id=me.session_id)
    kept = c.users.get(user_id).kept_device
    assert kept is not None and kept.key == c.sessions.get(sid(after)).device_key
    last = c.identity.login(PASSWORD + "!", email=address, device_token=after.device_token)
    assert not c.sessions.get(sid(last)).new_device
    c.users.confirm_email(user_id, identity_key(email_lookup_key(address), c.blind_index), None,
                          password_hash=c.identity.hasher.hash(PASSWORD))  # a reset keeps no device
    assert c.users.get(user_id).kept_device is None
