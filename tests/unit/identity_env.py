"""An Identity service wired to fakes, for unit tests."""
from __future__ import annotations

from dataclasses import dataclass

from chalicelib.adapters.crypto import BlindIndex
from chalicelib.adapters.passwords import BcryptHasher
from chalicelib.adapters.tokens import JwtKeys, generate_private_pem
from chalicelib.services.codes import OneTimeCodes
from chalicelib.services.contacts import ContactVerification
from chalicelib.services.identity import Identity, TokenPolicy
from chalicelib.services.lockout import Lockout
from chalicelib.services.mfa import Mfa
from chalicelib.services.recovery import Recovery
from tests.fakes import Clock, FakeCodes, FakeCounters, FakeMessenger, FakeSessions, FakeUsers, PlainCipher

KEY = "A" * 43 + "="  # 32 zero-ish bytes, base64: a fixed test-only key
PASSWORD = "correct horse battery staple 42"


@dataclass
class Env:
    identity: Identity
    mfa: Mfa
    users: FakeUsers
    sessions: FakeSessions
    counters: FakeCounters
    clock: Clock
    jwt: JwtKeys
    contacts: ContactVerification
    recovery: Recovery
    outbox: FakeMessenger
    codes: FakeCodes
    delivered: list[tuple[str, str]]  # (contact key, new owner) handed to the invitations
    slept: list[float]


def make_env() -> Env:
    codes = FakeCodes()
    users, sessions, counters, clock = FakeUsers(codes), FakeSessions(), FakeCounters(), Clock()
    users.sessions = sessions
    cipher, bidx = PlainCipher(), BlindIndex(KEY)
    lockout = Lockout(counters, max_failures=5, window_seconds=900)  # wrong OTP codes
    login_lockout = Lockout(counters, max_failures=10, window_seconds=900)  # wrong passwords
    mfa = Mfa(users=users, cipher=cipher, lockout=lockout, code_hash=bidx, now=clock)
    jwt = JwtKeys(generate_private_pem())
    identity = Identity(users=users, sessions=sessions, hasher=BcryptHasher(4), cipher=cipher, blind_index=bidx,
                        jwt=jwt, policy=TokenPolicy("ewallet-test", "ewallet-api"), login_lockout=login_lockout,
                        mfa=mfa, default_currency="USD", now=clock)
    outbox = FakeMessenger()
    delivered: list[tuple[str, str]] = []
    slept: list[float] = []

    def deliver(contact: str, user_id: str) -> int:
        delivered.append((contact, user_id))
        return 0

    identity.deliver = deliver
    mfa.sessions = identity.session_passwords  # wrong codes inside a login count for it
    one_time = OneTimeCodes(codes, bidx, now=clock)
    sends = Lockout(counters, max_failures=5, window_seconds=3600)
    contacts = ContactVerification(users=users, codes=one_time, messenger=outbox, cipher=cipher, blind_index=bidx,
                                   send_limit=sends, deliver=deliver, now=clock,
                                   contact_sends=Lockout(counters, max_failures=10, window_seconds=3600),
                                   contact_tries=Lockout(counters, max_failures=20, window_seconds=86400))
    recovery = Recovery(users=users, sessions=sessions, codes=one_time, messenger=outbox, hasher=BcryptHasher(4),
                        mfa=mfa, blind_index=bidx, send_limit=sends, login_lockout=login_lockout, deliver=deliver,
                        cipher=cipher, default_currency="USD", floor_seconds=0.4, now=clock, monotonic=clock,
                        sleep=slept.append)
    return Env(identity, mfa, users, sessions, counters, clock, jwt, contacts, recovery, outbox, codes, delivered,
               slept)


def verify_email(env: Env, user_id: str, email: str) -> None:
    """Prove the account's e-mail the way its owner does: the code sent, typed back."""
    from chalicelib.domain.verification import Channel

    env.contacts.send(user_id, Channel.EMAIL)
    env.contacts.confirm(user_id, Channel.EMAIL, env.outbox.last_code(email))
