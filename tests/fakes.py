"""In-memory fakes of the service ports (cosmicpython style: behaviour, not mocks)."""
from __future__ import annotations

from typing import Any

from chalicelib.domain.errors import InvalidWebhook


class FakeVerifier:
    def __init__(self, valid: bool = True) -> None:
        self.valid = valid

    def verify(self, payload: bytes, signature: str | None) -> None:
        if not self.valid or not signature:
            raise InvalidWebhook()


class FakeQueue:
    def __init__(self) -> None:
        self.sent: list[str] = []

    def send(self, body: str) -> None:
        self.sent.append(body)


class FakeStripeEventLog:
    def __init__(self) -> None:
        self.events: dict[str, tuple[str, str | None]] = {}

    def record_received(self, event_id: str, type_: str, object_id: str | None) -> bool:
        if event_id in self.events:
            return False
        self.events[event_id] = (type_, object_id)
        return True

    applied: dict[str, str]

    def status_of(self, event_id: str) -> str | None:
        if event_id in getattr(self, "applied", {}):
            return "applied"
        return "received" if event_id in self.events else None

    def mark_applied(self, event_id: str, outcome: str) -> None:
        self.__dict__.setdefault("applied", {})[event_id] = outcome


# -- identity -----------------------------------------------------------------------------------
import copy  # noqa: E402

from chalicelib.domain.errors import Conflict, EmailTaken, PhoneTaken  # noqa: E402
from chalicelib.domain.user import NewWallet, Session, User  # noqa: E402


class FakeUsers:
    def __init__(self) -> None:
        self.users: dict[str, User] = {}
        self.identities: dict[str, str] = {}
        self.wallets: dict[str, NewWallet] = {}

    def create(self, user: User, identities: list[str], wallet: NewWallet) -> None:
        for key in identities:
            if key in self.identities:
                raise {"email": EmailTaken, "phone": PhoneTaken}.get(key.split("#")[0], Conflict)()
        self.users[user.user_id] = copy.deepcopy(user)
        self.identities.update({k: user.user_id for k in identities})
        self.wallets[wallet.wallet_id] = wallet

    def get(self, user_id: str) -> User | None:
        return copy.deepcopy(self.users.get(user_id))

    def user_id_for(self, key: str) -> str | None:
        return self.identities.get(key)

    def link(self, key: str, user_id: str, created_at: str) -> str:
        return self.identities.setdefault(key, user_id)

    def set_pending_totp(self, user_id: str, ct: str) -> bool:
        u = self.users[user_id]
        if u.mfa_enabled:
            return False
        u.totp_pending_ct = ct
        return True

    def enable_totp(self, user_id: str, pending_ct: str, step: int, hashes: set[str]) -> bool:
        u = self.users[user_id]
        if u.mfa_enabled or u.totp_pending_ct != pending_ct:
            return False
        u.mfa_enabled, u.totp_secret_ct, u.totp_pending_ct = True, pending_ct, None
        u.totp_last_step, u.recovery_codes = step, set(hashes)
        return True

    def disable_totp(self, user_id: str) -> bool:
        u = self.users[user_id]
        if not u.mfa_enabled:
            return False
        u.mfa_enabled, u.totp_secret_ct, u.recovery_codes = False, None, set()
        return True

    def use_totp_step(self, user_id: str, step: int) -> bool:
        u = self.users[user_id]
        if not u.mfa_enabled or u.totp_last_step >= step:
            return False
        u.totp_last_step = step
        return True

    def use_recovery_code(self, user_id: str, code_hash: str) -> bool:
        u = self.users[user_id]
        if code_hash not in u.recovery_codes:
            return False
        u.recovery_codes.discard(code_hash)
        return True

    def set_password(self, user_id: str, password_hash: str) -> bool:
        self.users[user_id].password_hash = password_hash
        return True

    def clear_password(self, user_id: str) -> bool:
        self.users[user_id].password_hash = None
        return True


class FakeSessions:
    def __init__(self) -> None:
        self.sessions: dict[str, Session] = {}

    def create(self, session: Session, created_at: str) -> None:
        assert session.session_id not in self.sessions
        self.sessions[session.session_id] = copy.deepcopy(session)

    def get(self, session_id: str) -> Session | None:
        return copy.deepcopy(self.sessions.get(session_id))

    def rotate(self, session_id: str, expected: str, new: str, recent: list[str], now: int,
               retired: str | None = None) -> bool:
        s = self.sessions.get(session_id)
        if s is None or s.current_hash != expected or s.status != "active" or s.expires_at <= now:
            return False
        s.recent_hashes = list(recent)
        if retired is not None:
            s.previous_hash, s.rotated_at = retired, now
        s.current_hash, s.generation = new, s.generation + 1
        return True

    def revoke(self, session_id: str) -> None:
        if session_id in self.sessions:
            self.sessions[session_id].status = "revoked"

    def revoke_all(self, user_id: str) -> int:
        mine = [s for s in self.sessions.values() if s.user_id == user_id and s.status == "active"]
        for s in mine:
            s.status = "revoked"
        return len(mine)

    def is_active(self, session_id: str, now: int) -> bool:
        s = self.sessions.get(session_id)
        return s is not None and s.status == "active" and s.expires_at > now


class FakeCounters:
    def __init__(self) -> None:
        self.rows: dict[str, tuple[int, int]] = {}

    def current(self, key: str, now: int) -> tuple[int, int]:
        count, ends = self.rows.get(key, (0, 0))
        return (count, ends) if ends > now else (0, 0)

    def hit(self, key: str, now: int, window: int) -> tuple[int, int]:
        count, ends = self.current(key, now)
        self.rows[key] = (count + 1, ends) if ends else (1, now + window)
        return self.rows[key]

    def clear(self, key: str) -> None:
        self.rows.pop(key, None)


class PlainCipher:
    """Reversible and context-bound, like the real one, without the SDK (unit tests only)."""

    def encrypt(self, plaintext: str, owner: str, field: str) -> str:
        return f"enc:{owner}:{field}:{plaintext[::-1]}"

    def decrypt(self, ciphertext: str, owner: str, field: str) -> str:
        prefix = f"enc:{owner}:{field}:"
        assert ciphertext.startswith(prefix), "wrong encryption context"
        return ciphertext[len(prefix):][::-1]


class Clock:
    def __init__(self, t: float | None = None) -> None:
        # Start at the real time: PyJWT checks iat/nbf/exp against the real clock.
        self.t = __import__("time").time() if t is None else t

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


# -- funding ------------------------------------------------------------------------------------
class UnusedGateway:
    """The payment-gateway port with every call refused: a fake overrides what its test uses,
    so a call the test did not expect fails loudly instead of passing quietly."""

    def _unused(self, *args: object, **kwargs: object) -> Any:
        raise AssertionError("this fake gateway was not expected to be called here")

    # Typed Any so that a fake may override any of them with the port's own signature.
    create_customer: Any = _unused
    create_setup_intent: Any = _unused
    attach_payment_method: Any = _unused
    detach_payment_method: Any = _unused
    charge: Any = _unused
    open_payout_account: Any = _unused
    transfer_to_account: Any = _unused
    find_transfer: Any = _unused
    create_payout: Any = _unused
    find_payout: Any = _unused
    reverse_transfer: Any = _unused

    def payout_amount(self, payout: dict[str, Any]) -> tuple[int, str]:
        amount = payout.get("amount")
        return (amount if isinstance(amount, int) else -1), str(payout.get("currency", "")).upper()
