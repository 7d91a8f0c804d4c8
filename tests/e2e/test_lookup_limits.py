"""Issue 26, attack 4, over HTTP: who is registered cannot be probed without limit.

Before, `POST /transfers` from an empty wallet answered recipient_not_found for an unknown
address and insufficient_funds for a registered one, and `PATCH /me` answered phone_taken, as
often as anyone asked. Now (docs/account-safety.md, look-up limits): at most
30 distinct unknown recipients per account per hour across transfers, payment requests and
invitations, then 429 for every new address, registered or not; at most 5 phone changes per
account per day, then 429, taken or not."""
from __future__ import annotations

import uuid

from tests.e2e.conftest import PASSWORD, uniq_email, uniq_phone
from tests.e2e.test_ledger import code, default_wallet, send

MISSES = 30


def refused(r, window: int = 3600) -> bool:
    return r.status_code == 429 and code(r) == "too_many_requests" and 0 < int(r.headers["Retry-After"]) <= window


def test_attack_4_probing_who_is_registered_from_an_empty_wallet_is_429_after_30_unknown_addresses(new_user, fund):
    eve, bob, cat = new_user(), new_user(), new_user()
    wallet = default_wallet(eve)["wallet_id"]
    assert default_wallet(eve)["balance"] == 0

    def pay(to: dict):
        return send(eve, {"from_wallet_id": wallet, "to": to, "amount": 100, "currency": "USD"})

    def ask(payer: dict):
        return eve.api.request("POST", "/payment-requests", {"payer": payer, "amount": 100, "currency": "USD"},
                               headers={"Idempotency-Key": uuid.uuid4().hex})

    # The oracle the limit bounds: a registered address answers otherwise (and is not counted).
    r = pay({"email": bob.email})
    assert r.status_code == 422 and code(r) == "insufficient_funds", r.text
    probed = [uniq_email("probe") for _ in range(MISSES)]
    for i, address in enumerate(probed):  # transfers, invitations and payment requests alike
        if i % 3 == 0:
            r = pay({"email": address})
        elif i % 3 == 1:
            r = pay({"email": address, "invite": True})
        else:
            r = ask({"email": address})
        expected = ("insufficient_funds", 422) if i % 3 == 1 else ("recipient_not_found", 404)
        assert (code(r), r.status_code) == expected, (i, r.text)

    # Past 30: every new address is refused alike, registered or not, on every route.
    assert refused(pay({"email": uniq_email("probe")}))
    assert refused(pay({"email": cat.email})), "a registered address must not answer otherwise"
    assert refused(pay({"email": cat.email, "invite": True}))
    assert refused(pay({"phone": uniq_phone()}))
    assert refused(ask({"email": cat.email}))
    assert refused(ask({"email": uniq_email("probe")}))
    # An address counted already answers as before; paying a wallet is no look-up; others are free.
    r = pay({"email": probed[0]})
    assert r.status_code == 404 and code(r) == "recipient_not_found"
    r = pay({"wallet_id": default_wallet(bob)["wallet_id"]})
    assert r.status_code == 422 and code(r) == "insufficient_funds"
    bobs = default_wallet(bob)["wallet_id"]
    r = send(bob, {"from_wallet_id": bobs, "to": {"email": uniq_email("probe")}, "amount": 100, "currency": "USD"})
    assert r.status_code == 404 and code(r) == "recipient_not_found"
    fund(bobs, 100)
    r = send(bob, {"from_wallet_id": bobs, "to": {"email": cat.email}, "amount": 100, "currency": "USD"})
    assert r.status_code == 201, r.text


def test_attack_4_the_sixth_phone_change_of_a_day_is_429_taken_or_not(new_user):
    owner, eve = new_user(phone=uniq_phone()), new_user()
    taken = owner.user["phone"]
    assert owner.user["phone_verified"]

    def change(phone: str):
        # `password`: the step-up the contract asks for a phone change (ignored until it is enforced).
        return eve.api.request("PATCH", "/me", {"phone": phone, "password": PASSWORD})

    r = change(taken)  # a probe counts like a change
    assert r.status_code == 409 and code(r) == "phone_taken"
    phones = [uniq_phone() for _ in range(4)]
    for phone in phones:  # the first phone counts too
        r = change(phone)
        assert r.status_code == 200 and r.json()["phone"] == phone, r.text
    r = change(phones[-1])  # the same phone again is no change
    assert r.status_code == 200
    r = eve.api.request("PATCH", "/me", {"first_name": "Eve"})  # names are not limited
    assert r.status_code == 200 and r.json()["first_name"] == "Eve"
    assert refused(change(uniq_phone()), 86400)
    assert refused(change(taken), 86400), "a taken phone must not answer otherwise"
    assert eve.api.request("GET", "/me").json()["phone"] == phones[-1]
    # Per account: the owner still changes theirs.
    fresh = uniq_phone()
    r = owner.api.request("PATCH", "/me", {"phone": fresh, "password": PASSWORD})
    assert r.status_code == 200 and r.json()["phone"] == fresh
