"""Lockout after repeated failures: a fixed window per key, counted in DynamoDB."""
from __future__ import annotations

from dataclasses import dataclass

from chalicelib.domain.errors import TooManyRequests
from chalicelib.services.ports import Counters


@dataclass(frozen=True)
class Lockout:
    counters: Counters
    max_failures: int = 5
    window_seconds: int = 900

    def check(self, key: str, now: int) -> None:
        """Raise 429 while the key is locked, whatever the caller presents (even the right secret)."""
        count, ends = self.counters.current(key, now)
        if count >= self.max_failures:
            raise TooManyRequests(retry_after=max(1, ends - now))

    def failed(self, key: str, now: int) -> None:
        count, ends = self.counters.hit(key, now, self.window_seconds)
        if count >= self.max_failures:
            raise TooManyRequests(retry_after=max(1, ends - now))

    def succeeded(self, key: str) -> None:
        self.counters.clear(key)
