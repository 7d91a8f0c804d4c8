"""Verified contacts and recovery on DynamoDB Local: codes counted atomically, each proof
consumed in the transaction with what it proves, the first verifier of a phone wins."""
from __future__ import annotations

import secrets
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from chalicelib.domain.contact import email_lookup_key, identity_key
from chalicelib.domain.errors import CodeExpired, DomainError, InvalidCode, PhoneTaken
from chalicelib.domain.verification import Channel
from tests.fakes import FakeMessenger

PASSWORD = "correct horse battery staple 42"


@pytest.fixture
def c(stack_container):
    from chalicelib.adapters.tokens import JwtKeys, generate_private_pem

    stack_container.messenger = FakeMessenger()  # read the codes here; moto's outbox is for e2e
    stack_container.jwt_keys = JwtKeys(generate_private_pem())
    stack_container.recovery.floor_seconds = 0
    return stack_container


def phone() -> str:
    return f"+6591{secrets.randbelow(10**6):06d}"


def test_concurrent_confirmations_of_one_phone_by_many_accounts_give_it_to_one(c):
    number = phone()
    users = [c.identity.register(f"it.{uuid.uuid4().hex[:10]}@example.com", PASSWORD, phone=number).user_id
             for _ in range(6)]
    codes = {}
    for user_id in users:
        c.contacts.send(user_id, Channel.PHONE)
        codes[user_id] = c.messenger.last_code(number)

    def confirm(user_id: str) -> str:
        try:
            c.contacts.confirm(user_id, Channel.PHONE, codes[user_id])
            return "won"
        except DomainError as err:
            return err.code

    with ThreadPoolExecutor(6) as pool:
        outcomes = list(pool.map(confirm, users))
    assert outcomes.count("won") == 1 and set(outcomes) == {"won", "phone_taken"}, outcomes
    owner = users[outcomes.index("won")]
    assert [u for u in users if c.users.get(u).phone_verified] == [owner]
    assert c.identity.login(PASSWORD, phone=number)
    with pytest.raises(PhoneTaken):
        c.identity.register(f"it.{uuid.uuid4().hex[:10]}@example.com", PASSWORD, phone=number)


def test_tries_are_counted_atomically_and_a_right_code_is_used_once(c):
    p = c.identity.register(f"it.{uuid.uuid4().hex[:10]}@example.com", PASSWORD)
    c.contacts.send(p.user_id, Channel.EMAIL)
    address = c.messenger.sent[-1][1]
    right = c.messenger.last_code(address)
    wrong = "000000" if right != "000000" else "111111"

    def guess(i: int) -> str:
        try:
            c.contacts.confirm(p.user_id, Channel.EMAIL, wrong)
        except (InvalidCode, CodeExpired) as err:
            return err.code
        return "verified"

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(guess, range(8)))
    assert outcomes.count("invalid_code") == 5 and outcomes.count("code_expired") == 3, outcomes
    with pytest.raises(CodeExpired):  # burned: even the right code
        c.contacts.confirm(p.user_id, Channel.EMAIL, right)
    c.contacts.send(p.user_id, Channel.EMAIL)
    right = c.messenger.last_code(address)
    with ThreadPoolExecutor(4) as pool:  # four confirmations of the right code: one verifies
        outcomes = list(pool.map(lambda _: _confirm(c, p.user_id, right), range(4)))
    assert outcomes.count("verified") == 1, outcomes
    assert c.identity.profile(p.user_id).email_verified


def _confirm(c, user_id: str, code: str) -> str:
    try:
        c.contacts.confirm(user_id, Channel.EMAIL, code)
        return "verified"
    except DomainError as err:
        return err.code


def test_a_reset_sets_the_password_and_verifies_in_one_go_and_unknown_emails_answer_alike(c):
    address = f"it.{uuid.uuid4().hex[:10]}@example.com"
    p = c.identity.register(address, PASSWORD)
    c.recovery.forgot(address)
    c.recovery.forgot(f"ghost.{uuid.uuid4().hex[:10]}@example.com")
    assert [a for _, a, _ in c.messenger.sent] == [address]
    c.recovery.reset(address, c.messenger.last_code(address), "a brand new passphrase 1")
    assert c.identity.login("a brand new passphrase 1", email=address)
    assert c.identity.profile(p.user_id).email_verified
    assert c.users.verified_user_for(identity_key(email_lookup_key(address), c.blind_index)) == p.user_id


def test_a_phone_change_racing_its_confirmation_is_a_conflict_not_an_orphaned_phone(c):
    from chalicelib.domain.errors import Conflict
    from chalicelib.domain.user import PhoneChange

    number = phone()
    p = c.identity.register(f"it.{uuid.uuid4().hex[:10]}@example.com", PASSWORD, phone=number)
    stale = c.users.get(p.user_id)  # read by a PATCH /me, before...
    c.contacts.send(p.user_id, Channel.PHONE)
    c.contacts.confirm(p.user_id, Channel.PHONE, c.messenger.last_code(number))  # ...this commits
    change = PhoneChange(new_ct=c.cipher.encrypt(phone(), p.user_id, "phone"),
                         new_key="phone#unused-" + uuid.uuid4().hex, old_ct=stale.phone_ct, old_verified_key=None)
    with pytest.raises(Conflict):
        c.users.update_profile(p.user_id, {}, change)
    assert c.users.get(p.user_id).phone_verified  # the verified phone stays whole
