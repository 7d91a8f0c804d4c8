"""Device tokens: a client that has logged in to an account before (OWASP "device cookies").

A login hands the client a token bound to the account; presented on a later login, it lets the
lockout tell the owner's own phone or browser from everyone else (services.identity): failures
of clients without one are counted together per account, a client with one is locked only by
its own failures. So a stranger who knows the e-mail can lock out strangers, never the owner's
trusted devices.

Stateless: `dt1.<user_id>.<nonce>.<expires>.<mac>`, an HMAC-SHA256 under a key derived from the
blind-index secret in its own `device:` domain (no table, no new secret). The account id is in
the token so a token of another account is simply not valid here; the nonce names the device
(its `device_key`, a hash, is what counters and sessions keep, never the token). A token that
is forged, expired or another account's is treated exactly like none.

The MAC also covers the account's auth epoch (domain.user.User.auth_epoch), which the token does
not carry: a password reset or change, "sign out everywhere else" or closing bumps it, and every
device token issued before stops being trusted (a thief's, got with the old password). All but
one: a password change or "sign out everywhere else" carries the device it was made from over
(`User.kept_device`), so the owner's own next login is still a trusted device's and no stranger
filling the shared counter can lock her out of the account she has just secured. A reset
(whoever asked may have lost the device) and closing carry none.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from chalicelib.domain.user import KeptDevice

PREFIX = "dt1"
DEVICE_TOKEN_TTL = 90 * 86400
# How many epochs back a kept device's token is looked for (each one HMAC): more bumps from the
# same device than this while it never signed in again, and it is simply a new device.
KEPT_EPOCHS = 16
# The blind-index input that derives the signing key: a domain of its own (contact look-up
# keys start "email:" or "phone:"), so no look-up key can ever equal it.
KEY_DOMAIN = "device:token-signing-key"


@dataclass(frozen=True)
class TrustedDevice:
    nonce: str
    key: str  # the device key: counters and sessions name the device by it


@dataclass(frozen=True)
class DeviceTokens:
    mac_key: bytes
    ttl: int = DEVICE_TOKEN_TTL

    @classmethod
    def derived_from(cls, blind_index: Callable[[str], str]) -> DeviceTokens:
        return cls(bytes.fromhex(blind_index(KEY_DOMAIN)))

    def _mac(self, *parts: str) -> str:
        digest = hmac.new(self.mac_key, "|".join(parts).encode("utf-8"), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")

    def issue(self, user_id: str, epoch: int, now: int,
              device: TrustedDevice | None = None) -> tuple[str, TrustedDevice]:
        """A token for this account at its auth `epoch`, valid `ttl` seconds from now, and its
        device; for a device already trusted, the same device (nonce) with a fresh expiry, so
        its counter and its sessions stay its own."""
        nonce = device.nonce if device else secrets.token_urlsafe(16)
        expires = str(now + self.ttl)
        token = ".".join((PREFIX, user_id, nonce, expires, self._mac(PREFIX, user_id, nonce, expires, str(epoch))))
        return token, self._device(nonce)

    def _device(self, nonce: str) -> TrustedDevice:
        return TrustedDevice(nonce=nonce, key=self._mac("key", nonce)[:32])

    def trusted(self, token: str | None, user_id: str, epoch: int, now: int,
                kept: KeptDevice | None = None) -> TrustedDevice | None:
        """The device of a token valid for this account at its auth `epoch` now, or the `kept`
        device's token issued under an epoch since `kept.since`; None for anything else."""
        # Ours are ASCII: anything else (a lone surrogate that UTF-8 cannot encode, a "²" that
        # isdigit() takes for a digit and int() refuses) is simply not one.
        parts = token.split(".") if isinstance(token, str) and token.isascii() else []
        if len(parts) != 5 or parts[0] != PREFIX or not parts[2] or not parts[3].isdigit() or len(parts[3]) > 12:
            return None
        _, owner, nonce, expires, mac = parts
        if owner != user_id or int(expires) <= now:
            return None
        device = self._device(nonce)
        epochs = [epoch]
        if kept is not None and device.key == kept.key:
            epochs += range(max(kept.since, epoch - KEPT_EPOCHS), epoch)
        if any(hmac.compare_digest(mac, self._mac(PREFIX, owner, nonce, expires, str(e))) for e in epochs):
            return device
        return None
