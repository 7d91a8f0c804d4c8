"""An Identity service wired to fakes, for unit tests."""
from __future__ import annotations

from dataclasses import dataclass

from chalicelib.adapters.crypto import BlindIndex
from chalicelib.adapters.passwords import BcryptHasher
from chalicelib.adapters.tokens import JwtKeys, generate_private_pem
from chalicelib.services.identity import Identity, TokenPolicy
from chalicelib.services.lockout import Lockout
from chalicelib.services.mfa import Mfa
from tests.fakes import Clock, FakeCounters, FakeSessions, FakeUsers, PlainCipher

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


def make_env() -> Env:
    users, sessions, counters, clock = FakeUsers(), FakeSessions(), FakeCounters(), Clock()
    cipher, bidx = PlainCipher(), BlindIndex(KEY)
    lockout = Lockout(counters, max_failures=5, window_seconds=900)
    mfa = Mfa(users=users, cipher=cipher, lockout=lockout, code_hash=bidx, now=clock)
    jwt = JwtKeys(generate_private_pem())
    identity = Identity(users=users, sessions=sessions, hasher=BcryptHasher(4), cipher=cipher, blind_index=bidx,
                        jwt=jwt, policy=TokenPolicy("ewallet-test", "ewallet-api"), login_lockout=lockout,
                        mfa=mfa, default_currency="USD", now=clock)
    return Env(identity, mfa, users, sessions, counters, clock, jwt)
