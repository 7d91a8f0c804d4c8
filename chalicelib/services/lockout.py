"""Lockout after repeated failures: a fixed window per key, counted in DynamoDB.

Every attempt is counted BEFORE the secret is checked (one atomic increment) and a success
clears the count, so a burst of concurrent guesses cannot all slip past a check made before any
of them failed: attempt max+1 within the window is refused, whoever sends it.
"""
from __future__ import annotations

from dataclasses import dataclass

from chalicelib.domain.errors import TooManyRequests
from chalicelib.services.ports import Counters


@dataclass(frozen=True)
class Lockout:
    counters: Counters
    max_failures: int = 5
    window_seconds: int = 900

    def attempt(self, key: str, now: int) -> int:
        """Count this attempt: how many there were in the window, this one included; 429 while
        more than `max_failures` attempts failed in it, whatever the caller presents (even the
        right secret)."""
        count, ends = self.counters.hit(key, now, self.window_seconds)
        if count > self.max_failures:
            raise TooManyRequests(retry_after=max(1, ends - now))
        return count

    def succeeded(self, key: str) -> None:
        self.counters.clear(key)


def untrusted_key(identity_key: str) -> str:
    """The password-guess counter shared by every client WITHOUT a device token, per identifier
    (an e-mail's or a phone's identity key, registered or not): strangers lock out strangers
    only. Per identifier, not per account, so that filling it through a known phone tells
    nothing about which e-mail is the same account's (review 26d); an unknown identifier counts
    alike. The reset clears the e-mail's."""
    return f"login#untrusted#{identity_key}"


def device_failures_key(device_key: str) -> str:
    """The password-guess counter of one device: its logins with a valid device token. Never
    counted from inside a login (step-up, password change): whoever stole a session would lock
    its device's logins (`session_failures_key`)."""
    return f"login#device#{device_key}"


def session_failures_key(session_id: str | None) -> str:
    """The counter of the wrong passwords typed inside one login (step-up, password change):
    services.sessions.SessionPasswords."""
    return f"reauth#session#{session_id}"


@dataclass(frozen=True)
class DistinctLimit:
    """At most `limit` distinct members per key in a fixed window (e.g. the different unknown
    addresses one account looked up this hour). A member already counted is free again, so a
    retry or a second payment to the same address never uses up the allowance."""

    counters: Counters
    limit: int
    window_seconds: int

    def count(self, key: str, member: str, now: int) -> None:
        """Count `member` (atomically, at most `limit` distinct); 429 once `limit` others are."""
        admitted, ends = self.counters.add_distinct(key, member, now, self.window_seconds, self.limit)
        if not admitted:
            raise TooManyRequests(retry_after=max(1, ends - now))

    def check(self, key: str, member: str, now: int) -> None:
        """The same 429 as `count` would give, counting nothing."""
        admitted, ends = self.counters.admits(key, member, now, self.limit)
        if not admitted:
            raise TooManyRequests(retry_after=max(1, ends - now))


def lookup_key(user_id: str) -> str:
    """The one set of unknown addresses an account looked up (transfers, invitations and
    payment requests share it)."""
    return f"lookups#{user_id}"
