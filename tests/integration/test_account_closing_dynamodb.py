"""Closing accounts nobody proved owning, on DynamoDB Local: the sparse index of unverified
accounts, the one-transaction close (status, released address, conditioned on still being
unverified), and the provider sign-in that never enters such an account (issue 26, attack 1)."""
from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from chalicelib.adapters.dynamodb.models import AccountStatusRecord, UserRecord
from chalicelib.adapters.dynamodb.users import DynamoUsers
from chalicelib.domain.commands import SocialSignIn
from chalicelib.domain.contact import email_lookup_key, identity_key
from chalicelib.domain.errors import InvalidCredentials, Unauthorized
from chalicelib.services.closing import AccountClosing
from chalicelib.services.identity import Identity
from tests.integration import test_identity_dynamodb as identity_tests
from tests.integration.test_identity_dynamodb import PASSWORD, email

# The identity service on DynamoDB Local: the fixtures of its own tests.
identity, keys = identity_tests.identity, identity_tests.keys


def email_key(identity: Identity, address: str) -> str:
    return identity_key(email_lookup_key(address), identity.blind_index)


def in_index(user_id: str, cutoff: int) -> bool:
    return user_id in DynamoUsers().unverified_before(cutoff)


def eventually(check, timeout: float = 5.0) -> bool:
    end = time.time() + timeout
    while not check():
        if time.time() > end:
            return False
        time.sleep(0.1)
    return True


def test_an_account_is_in_the_unverified_index_from_registration_until_a_contact_is_verified(identity):
    address = email()
    user = identity.register(address, PASSWORD)
    cutoff = int(time.time()) + 1
    assert eventually(lambda: in_index(user.user_id, cutoff))
    assert not in_index(user.user_id, cutoff - 3600)  # only those older than the cutoff
    identity.users.confirm_email(user.user_id, email_key(identity, address), None)
    assert eventually(lambda: not in_index(user.user_id, cutoff))
    record = UserRecord.get(user.user_id, consistent_read=True)
    assert record.unverified is None and record.unverified_since is None
    # Verified: the closing's condition refuses it, whatever a stale read says.
    stale = identity.users.get(user.user_id)
    stale.email_verified = False
    closing = AccountClosing(identity.users, identity.cipher, identity.blind_index, identity.sessions.revoke_all)
    assert not closing.close(stale, phone_too=True)
    assert identity.users.get(user.user_id).status == "active"


def test_closing_is_one_transaction_that_releases_the_address_and_ends_the_logins(identity):
    address = email()
    user = identity.register(address, PASSWORD)
    pair = identity.login(PASSWORD, email=address)
    closing = AccountClosing(identity.users, identity.cipher, identity.blind_index, identity.logins.end_all)
    assert closing.close(identity.users.get(user.user_id), phone_too=True)
    assert not closing.close(identity.users.get(user.user_id), phone_too=True)  # closed already
    assert identity.users.get(user.user_id).status == "closed"
    assert AccountStatusRecord.get(user.user_id).status == "closed"  # what every payment checks
    assert identity.users.user_id_for(email_key(identity, address)) is None
    assert eventually(lambda: not in_index(user.user_id, int(time.time()) + 1))
    with pytest.raises(Unauthorized):
        identity.verify_access(pair.access_token)
    with pytest.raises(Unauthorized):
        identity.refresh(pair.refresh_token)
    with pytest.raises(InvalidCredentials):
        identity.login(PASSWORD, email=address)
    assert identity.register(address, PASSWORD).user_id != user.user_id  # the address is free again


def test_a_take_back_refuses_to_close_on_a_stale_read_of_the_phone(identity):
    # Review R5: a phone verified after the read would stay keyed to the closed account.
    from chalicelib.domain.contact import phone_lookup_key
    from chalicelib.domain.user import PhoneChange

    address = email()
    user = identity.register(address, PASSWORD)
    read = identity.users.get(user.user_id)
    phone = f"+1415555{uuid.uuid4().int % 10000:04d}"
    new_ct = identity.cipher.encrypt(phone, user.user_id, "phone")
    identity.users.update_profile(user.user_id, {}, PhoneChange(
        new_ct=new_ct, new_key=identity_key(phone_lookup_key(phone), identity.blind_index),
        old_ct=None, old_verified_key=None))
    closing = AccountClosing(identity.users, identity.cipher, identity.blind_index, identity.sessions.revoke_all)
    assert not closing.close(read, phone_too=False)  # the phone is not the one read
    assert identity.users.get(user.user_id).status == "active"
    assert closing.close(identity.users.get(user.user_id), phone_too=False)  # read again: it closes


def test_a_verification_racing_a_closing_never_both_happen(identity):
    for _ in range(5):
        address = email()
        user = identity.register(address, PASSWORD)
        read = identity.users.get(user.user_id)
        closing = AccountClosing(identity.users, identity.cipher, identity.blind_index, identity.sessions.revoke_all)

        def verify(user_id: str, key: str) -> bool:
            try:
                identity.users.confirm_email(user_id, key, None)
                return True
            except Exception:  # noqa: BLE001 - the closing won: the identity item is gone
                return False

        with ThreadPoolExecutor(2) as pool:
            verified = pool.submit(verify, user.user_id, email_key(identity, address))
            closed = pool.submit(closing.close, read, phone_too=True)
            outcome = (verified.result(), closed.result())
        assert outcome in ((True, False), (False, True))
        after = identity.users.get(user.user_id)
        assert (after.status == "closed") == outcome[1] and after.email_verified == outcome[0]


def test_attack_1_a_provider_sign_in_never_enters_an_account_whose_email_nobody_proved(identity):
    address = email()
    squatter = identity.register(address, PASSWORD)  # the attacker registers the victim's e-mail
    held = identity.login(PASSWORD, email=address)
    pair, created = identity.social_sign_in(SocialSignIn.of_claims(
        "google", {"sub": f"g-{uuid.uuid4().hex}", "email": address, "email_verified": True}))
    victim = identity.verify_access(pair.access_token).user_id
    assert created and victim != squatter.user_id
    assert identity.users.get(squatter.user_id).status == "closed"
    assert identity.users.verified_user_for(email_key(identity, address)) == victim
    with pytest.raises(Unauthorized):
        identity.verify_access(held.access_token)
    # Once the victim's e-mail is verified, a second provider links to the victim's account.
    again, created = identity.social_sign_in(SocialSignIn.of_claims(
        "facebook", {"sub": f"f-{uuid.uuid4().hex}", "email": address, "email_verified": True}))
    assert not created and identity.verify_access(again.access_token).user_id == victim


def test_a_provider_address_on_a_look_alike_domain_neither_links_nor_closes(identity):
    # Re-review 26, R1/R3: glaß.com is a domain of its own; an identity item keyed by the old
    # casefold rule (alice@glaß.com's account under alice@glass.com's key) is refused, with
    # nothing linked or closed.
    from chalicelib.domain.errors import EmailTaken
    local = f"it.{uuid.uuid4().hex[:10]}"
    victim = identity.register(f"{local}@glass.com", PASSWORD)
    identity.users.confirm_email(victim.user_id, email_key(identity, f"{local}@glass.com"), None)
    pair, created = identity.social_sign_in(SocialSignIn.of_claims(
        "oidc", {"sub": f"o-{uuid.uuid4().hex}", "email": f"{local}@glaß.com", "email_verified": True}))
    assert created and identity.verify_access(pair.access_token).user_id != victim.user_id
    other = f"it.{uuid.uuid4().hex[:10]}"
    legacy_key = identity_key("email:" + f"{other}@glaß.com".casefold(), identity.blind_index)
    from chalicelib.services.identity import default_wallet, new_user
    user = new_user(identity.cipher, {"email": f"{other}@glaß.com"}, created_at="2026-01-01T00:00:00Z",
                    password_hash=None, unverified_since=int(time.time()))
    identity.users.create(user, [legacy_key], default_wallet(user, "USD"))
    unproven = identity.users.get(user.user_id)
    subject = f"g-{uuid.uuid4().hex}"
    with pytest.raises(EmailTaken):
        identity.social_sign_in(SocialSignIn.of_claims(
            "google", {"sub": subject, "email": f"{other}@glass.com", "email_verified": True}))
    assert identity.users.get(unproven.user_id).status == "active"
    assert identity.users.user_id_for(f"google#{subject}") is None
