"""Notifications on fakes: the fan-out rules, one per (event, recipient) whatever the stream
does, what they hold (never a contact or a memo), the live push and its clean-up, and the
stream Lambda invoked the way Lambda invokes it."""
from __future__ import annotations

import json
import random

import pytest
from chalice.test import Client

from chalicelib.config import get_settings
from chalicelib.container import Container, set_container
from chalicelib.domain.errors import NotFound, Unauthorized
from chalicelib.domain.notification import Change, notices_for
from chalicelib.domain.principal import Principal
from chalicelib.domain.user import User
from chalicelib.domain.wallet import Transfer
from chalicelib.services.notifications import Notifications
from chalicelib.services.people import People
from tests.fakes import FakeUsers, PlainCipher
from tests.fakes_notifications import FakeConnections, FakeInbox, FakePusher

T0 = 1_790_000_000.0


def entry(owner="usr_bob", direction="credit", status="posted", type_="transfer", transfer="tr_1", amount=1250):
    return {"wallet_id": "wal_b", "sk": f"1#{transfer}#c", "transfer_id": transfer, "type": type_,
            "direction": direction, "amount": amount, "currency": "USD", "status": status, "owner_id": owner,
            "counterparty_wallet_id": "wal_a", "memo_ct": "c2VjcmV0"}


def request(status="pending", **extra):
    return {"request_id": "prq_1", "requester_id": "usr_ann", "payer_id": "usr_bob", "amount": 700,
            "currency": "EUR", "status": status, "memo_ct": "c2VjcmV0", **extra}


def verify(token: str) -> Principal:
    if not token.startswith("good"):
        raise Unauthorized()
    return Principal(user_id="usr_bob", session_id=token.replace("good", "ses"))


@pytest.fixture
def env():
    users, cipher = FakeUsers(), PlainCipher()
    for uid, first, last in (("usr_ann", "Ann", "Lee"), ("usr_bob", "Bob", None)):
        users.users[uid] = User(user_id=uid, created_at="t", first_name_ct=cipher.encrypt(first, uid, "first_name"),
                                last_name_ct=cipher.encrypt(last, uid, "last_name") if last else None,
                                email_ct=cipher.encrypt(f"{first.lower()}@example.com", uid, "email"))
    transfers = {"tr_1": Transfer("tr_1", "transfer", "posted", "wal_a", "wal_b", "usr_ann", "usr_bob", 1250, "USD",
                                  None, "t")}
    inbox, connections, pusher = FakeInbox(), FakeConnections(), FakePusher()
    ended: set[str] = set()
    service = Notifications(inbox=inbox, connections=connections, people=lambda: People(users, cipher),
                            transfer=transfers.get, verify=verify, session_live=lambda s: s not in ended,
                            pusher=pusher, now=lambda: T0)
    service.ended = ended  # type: ignore[attr-defined]  # the sessions a test logs out
    return service, inbox, connections, pusher


def test_fan_out_rules_say_who_hears_of_what():
    def who(table, event, image):
        return [(n.recipient, n.type, n.counterparty) for n in notices_for(Change(table, event, image, T0))]

    assert who("entries", "INSERT", entry()) == [("usr_bob", "transfer.received", None)]
    for image in (entry(direction="debit"), entry(status="pending"), entry(type_="topup"), entry(owner="system")):
        assert who("entries", "INSERT", image) == []
    assert who("entries", "MODIFY", entry()) == []  # a leg's later change is not money arriving again
    # A redeemed offline voucher: the payee receives money, the payer hears it was redeemed; the
    # allowance's hold (a pending debit) and its release (MODIFY) tell nobody.
    assert who("entries", "INSERT", entry(type_="offline")) == [("usr_bob", "transfer.received", None)]
    assert who("entries", "INSERT", entry(type_="offline", direction="debit")) == [
        ("usr_bob", "offline.redeemed", None)]
    assert who("entries", "INSERT", entry(type_="offline", direction="debit", status="pending")) == []
    assert who("entries", "MODIFY", entry(type_="offline", direction="debit", status="voided")) == []
    assert who("invitations", "MODIFY", {"transfer_id": "tr_9", "sender_id": "usr_ann", "claimed_by": "usr_bob",
                                         "status": "posted", "amount": 5, "currency": "USD"}) == [
        ("usr_ann", "transfer.claimed", "usr_bob")]
    assert who("invitations", "MODIFY", {"transfer_id": "tr_9", "sender_id": "usr_ann", "status": "expired",
                                         "amount": 5, "currency": "USD"}) == []
    for status, kind in (("succeeded", "topup.succeeded"), ("failed", "topup.failed"), ("pending", None)):
        got = who("topups", "MODIFY", {"topup_id": "tu_1", "user_id": "usr_ann", "status": status, "amount": 1,
                                       "currency": "USD"})
        assert got == ([("usr_ann", kind, None)] if kind else [])
    for status, kind in (("paid", "withdrawal.paid"), ("failed", "withdrawal.failed"), ("needs_attention", None)):
        got = who("withdrawals", "MODIFY", {"withdrawal_id": "wd_1", "user_id": "usr_ann", "status": status,
                                            "amount": 1, "currency": "USD"})
        assert got == ([("usr_ann", kind, None)] if kind else [])
    assert who("payment_requests", "INSERT", request()) == [("usr_bob", "payment_request.received", "usr_ann")]
    assert who("payment_requests", "MODIFY", request("paid", transfer_id="tr_2")) == [
        ("usr_ann", "payment_request.paid", "usr_bob")]
    assert who("payment_requests", "MODIFY", request("declined")) == [("usr_ann", "payment_request.declined",
                                                                       "usr_bob")]
    for status in ("canceled", "expired"):
        assert who("payment_requests", "MODIFY", request(status)) == []
    assert who("entries", "REMOVE", entry()) == [] and who("users", "INSERT", {"user_id": "usr_x"}) == []


def test_one_notification_per_event_and_recipient_under_replays_and_reordering(env):
    service, inbox, _, _ = env
    changes = [Change("entries", "INSERT", entry(), T0),
               Change("payment_requests", "INSERT", request(), T0 + 1),
               Change("payment_requests", "MODIFY", request("paid", transfer_id="tr_1"), T0 + 2),
               # the same request changed again later (e.g. a sweep touching it): not a new event
               Change("payment_requests", "MODIFY", request("paid", transfer_id="tr_1", resolved_at=5), T0 + 3)]
    assert service.handle(changes) == 3
    for _ in range(5):
        batch = changes * 2
        random.shuffle(batch)
        assert service.handle(batch) == 0
    kinds = sorted((n.user_id, n.type) for n in inbox.items.values())
    assert kinds == [("usr_ann", "payment_request.paid"), ("usr_bob", "payment_request.received"),
                     ("usr_bob", "transfer.received")]


def test_a_notification_holds_ids_amount_and_a_display_name_never_a_contact_or_memo(env):
    service, inbox, _, _ = env
    service.handle([Change("entries", "INSERT", entry(), T0)])
    [n] = inbox.items.values()
    assert n.data == {"transfer_id": "tr_1", "amount": 1250, "currency": "USD",
                      "counterparty": {"user_id": "usr_ann", "display_name": "Ann L."}}
    text = json.dumps(service.list("usr_bob", False, 20, None))
    assert "@" not in text and "c2VjcmV0" not in text and "memo" not in text


def test_new_notifications_reach_every_open_connection_and_gone_ones_are_forgotten(env):
    service, _, connections, pusher = env
    assert service.connect("c1", "good1") and service.connect("c2", "good2") and service.connect("c5", "good5")
    assert not service.connect("c3", "forged") and not service.connect("c4", None)
    assert [c for c, _ in connections.of_user("usr_bob")] == ["c1", "c2", "c5"]
    service.ended.add("ses5")  # that login ended (logout, password reset): its socket hears nothing more
    pusher.gone.add("c2")
    service.handle([Change("entries", "INSERT", entry(), T0)])
    [(cid, frame)] = pusher.sent
    message = json.loads(frame)
    assert cid == "c1" and message["type"] == "notification"
    assert message["notification"]["type"] == "transfer.received" and message["notification"]["read"] is False
    assert [c for c, _ in connections.of_user("usr_bob")] == ["c1"]  # c2 gone, c5's session over: forgotten
    service.handle([Change("entries", "INSERT", entry(), T0)])  # a replay pushes nothing again
    assert len(pusher.sent) == 1
    pusher.broken.add("c1")  # a push that fails is the inbox's problem no more: it is stored
    assert service.handle([Change("entries", "INSERT", entry(transfer="tr_2"), T0 + 1)]) == 1
    service.disconnect("c1")
    assert connections.of_user("usr_bob") == []


def test_money_between_ones_own_wallets_tells_nobody(env):
    service, inbox, _, _ = env
    service.transfer = lambda tid: Transfer(tid, "transfer", "posted", "wal_b1", "wal_b2", "usr_bob", "usr_bob", 5,
                                            "USD", None, "t")
    assert service.handle([Change("entries", "INSERT", entry(transfer="tr_own"), T0)]) == 0
    assert inbox.items == {}


def test_the_inbox_counts_unread_and_marks_read(env):
    service, _, _, _ = env
    service.handle([Change("entries", "INSERT", entry(transfer=f"tr_{i}"), T0 + i) for i in range(3)])
    page = service.list("usr_bob", False, 2, None)
    assert page["unread_count"] == 3 and len(page["items"]) == 2 and page["next_cursor"]
    assert page["items"][0]["created_at"] > page["items"][1]["created_at"]
    service.mark_read("usr_bob", page["items"][0]["notification_id"])
    assert service.list("usr_bob", True, 20, None)["unread_count"] == 2
    with pytest.raises(NotFound):
        service.mark_read("usr_ann", page["items"][1]["notification_id"])  # not hers
    assert service.read_all("usr_bob") == 2
    assert service.list("usr_bob", True, 20, None) == {"items": [], "next_cursor": None, "unread_count": 0}


def test_an_unreadable_change_is_skipped_not_retried_forever(env):
    service, inbox, _, _ = env
    assert service.handle([Change("topups", "MODIFY", {"status": "succeeded"}, T0),
                           Change("entries", "INSERT", entry(), T0)]) == 1
    assert len(inbox.items) == 1


def test_the_stream_lambda_reads_records_as_lambda_gives_them(env):
    import app

    service, inbox, _, _ = env
    set_container(Container(notifications=service))
    arn = "arn:aws:dynamodb:us-east-1:1:table/{}/stream/2026-01-01T00:00:00.000"
    image = {"wallet_id": {"S": "wal_b"}, "transfer_id": {"S": "tr_1"}, "type": {"S": "transfer"},
             "direction": {"S": "credit"}, "status": {"S": "posted"}, "owner_id": {"S": "usr_bob"},
             "amount": {"N": "1250"}, "currency": {"S": "USD"}}
    prefix = get_settings().table_prefix
    records = [{"eventID": "1", "eventName": "INSERT", "eventSourceARN": arn.format(f"{prefix}entries"),
                "dynamodb": {"ApproximateCreationDateTime": T0, "NewImage": image}},
               {"eventID": "2", "eventName": "INSERT", "eventSourceARN": arn.format("another-app-entries"),
                "dynamodb": {"ApproximateCreationDateTime": T0, "NewImage": image}}]
    try:
        with Client(app.app) as client:
            assert client.lambda_.invoke("notifications", {"Records": records}).payload == {"handled": 1}
            assert client.lambda_.invoke("notifications", {"Records": records}).payload == {"handled": 0}
    finally:
        set_container(None)
    [n] = inbox.items.values()
    assert (n.user_id, n.type, n.created_ms) == ("usr_bob", "transfer.received", int(T0 * 1000))


def test_an_unreadable_stream_record_is_skipped_by_the_reader():
    from chalicelib.adapters.dynamodb.stream import changes

    arn = "arn:aws:dynamodb:us-east-1:1:table/p-entries/stream/x"
    records: list[dict] = [{"eventName": "INSERT", "eventSourceARN": arn, "dynamodb": {"NewImage": {"a": {"Q": "?"}}}},
               {"eventName": "INSERT", "eventSourceARN": arn, "dynamodb": "not a dict"},
               {"eventName": "INSERT", "eventSourceARN": arn, "dynamodb": {"ApproximateCreationDateTime": "x"}},
               {"eventName": "MODIFY", "eventSourceARN": arn, "dynamodb": {"NewImage": {"n": {"N": "5"}},
                                                                           "ApproximateCreationDateTime": T0}}]
    [change] = list(changes(records, "p-"))
    assert (change.table, change.event, change.image, change.at) == ("entries", "MODIFY", {"n": 5}, T0)
