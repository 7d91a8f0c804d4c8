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


def test_a_reset_sets_the_password_and_moves_the_auth_epoch_in_one_go_and_unknown_emails_answer_alike(c):
    address = f"it.{uuid.uuid4().hex[:10]}@example.com"
    p = c.identity.register(address, PASSWORD)
    c.users.confirm_email(p.user_id, identity_key(email_lookup_key(address), c.blind_index), None)
    c.recovery.forgot(address)
    c.recovery.forgot(f"ghost.{uuid.uuid4().hex[:10]}@example.com")
    assert [a for _, a, _ in c.messenger.sent] == [address]
    c.recovery.reset(address, c.messenger.last_code(address), "a brand new passphrase 1")
    assert c.identity.login("a brand new passphrase 1", email=address)
    assert c.users.get(p.user_id).auth_epoch == 1  # every login and device token of before: over


def test_a_reset_proving_a_never_verified_email_opens_a_fresh_account_using_the_code_up(c):
    # Review 26, F1: the squatter's account is closed; the owner's new one is created, verified,
    # with the code consumed in the same transaction.
    address = f"it.{uuid.uuid4().hex[:10]}@example.com"
    squatter = c.identity.register(address, "the squatters password 1", phone=phone())
    c.recovery.forgot(address)
    code = c.messenger.last_code(address)
    c.recovery.reset(address, code, "a brand new passphrase 1")
    key = identity_key(email_lookup_key(address), c.blind_index)
    owner = c.users.verified_user_for(key)
    assert owner and owner != squatter.user_id
    assert c.users.get(squatter.user_id).status == "closed" and c.users.get(squatter.user_id).auth_epoch == 1
    assert c.identity.profile(owner).email_verified and c.identity.profile(owner).phone is None
    assert c.identity.login("a brand new passphrase 1", email=address)
    with pytest.raises(CodeExpired):  # used up with the account: a replay finds a verified e-mail
        c.recovery.reset(address, code, "yet another passphrase 2")


def test_an_account_opened_with_a_code_used_meanwhile_is_not_opened(c):
    from chalicelib.adapters.dynamodb.users import DynamoUsers
    from chalicelib.domain.user import CodeProof
    from chalicelib.services.identity import default_wallet, new_user

    address = f"it.{uuid.uuid4().hex[:10]}@example.com"
    key = identity_key(email_lookup_key(address), c.blind_index)
    c.recovery.forgot(address)  # an unknown e-mail: a code is stored, never sent
    stored, _ = c.codes.attempt(f"reset#{key}", 0)
    proof = CodeProof(stored.key, stored.code_hash)

    def account():
        return new_user(c.cipher, {"email": address}, created_at="2026-01-01T00:00:00.000Z", email_verified=True)

    first = account()
    DynamoUsers().create(first, [key], default_wallet(first, "USD"), verified=(key,), proof=proof)
    again = account()
    with pytest.raises(CodeExpired):  # the code is used: nothing of the second account is written
        DynamoUsers().create(again, ["probe#" + uuid.uuid4().hex], default_wallet(again, "USD"), proof=proof)
    assert c.users.get(again.user_id) is None and c.users.get(first.user_id).email_verified


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


def test_a_reset_for_a_look_alike_domain_reaches_no_one_and_a_code_goes_to_the_stored_address(c):
    # Re-review 26, R1: alice@glaß.com (xn--gla-7ka.com) is not alice@glass.com; and a code is
    # mailed to the account's own address, never to the one typed.
    local = f"it.{uuid.uuid4().hex[:10]}"
    p = c.identity.register(f"{local}@glass.com", PASSWORD)
    c.users.confirm_email(p.user_id, identity_key(email_lookup_key(f"{local}@glass.com"), c.blind_index), None)
    c.recovery.forgot(f"{local}@glaß.com")
    assert c.messenger.sent == []
    c.recovery.forgot(f"{local.upper()}@GLASS.com")
    assert [a for _, a, _ in c.messenger.sent] == [f"{local}@glass.com"]
