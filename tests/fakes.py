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
import dataclasses  # noqa: E402

from chalicelib.domain.errors import CodeExpired, Conflict, EmailTaken, PhoneTaken  # noqa: E402
from chalicelib.domain.ids import rfc3339  # noqa: E402
from chalicelib.domain.messages import Message  # noqa: E402
from chalicelib.domain.user import CodeProof, KeptDevice, NewWallet, PhoneChange, Session, User  # noqa: E402
from chalicelib.domain.verification import KEEP_REPLACED, MAX_TRIES, USED, StoredCode  # noqa: E402


class FakeCodes:
    def __init__(self) -> None:
        self.codes: dict[str, StoredCode] = {}

    def issue(self, code: StoredCode) -> None:
        old = self.codes.get(code.key)
        replaced = ([*old.replaced, old.code_hash] if old else [])[-KEEP_REPLACED:]
        self.codes[code.key] = dataclasses.replace(code, tries=0, replaced=replaced)

    def attempt(self, key: str, now: int) -> tuple[StoredCode | None, bool]:
        c = self.codes.get(key)
        if c is None:
            return None, False
        if c.tries >= MAX_TRIES or c.expires_at <= now:
            return None, True
        c.tries += 1
        return copy.deepcopy(c), True

    def consume(self, proof: CodeProof | None) -> None:
        if proof is None:
            return
        c = self.codes.get(proof.key)
        if c is None or c.code_hash != proof.code_hash or c.tries > MAX_TRIES:
            raise CodeExpired()
        c.tries = USED


class FakeMessenger:
    """The outbox: what would have gone out by e-mail and SMS."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, Message]] = []  # (channel, address, message)

    def send_email(self, to: str, message: Message) -> None:
        self.sent.append(("email", to, message))

    def send_sms(self, to: str, message: Message) -> None:
        self.sent.append(("sms", to, message))

    def last_code(self, to: str) -> str:
        import re

        texts = [m.text for _, address, m in self.sent if address == to]
        found = re.search(r"code is (\d{6})", texts[-1]) if texts else None
        assert found, f"no code was sent to {to}"
        return found.group(1)


class FakeUsers:
    def __init__(self, codes: FakeCodes | None = None) -> None:
        self.users: dict[str, User] = {}
        self.identities: dict[str, str] = {}
        self.verified: set[str] = set()
        self.wallets: dict[str, NewWallet] = {}
        self.codes = codes or FakeCodes()

    def create(self, user: User, identities: list[str], wallet: NewWallet, *, verified: tuple[str, ...] = (),
               absent: tuple[str, ...] = (), proof: CodeProof | None = None) -> None:
        for key in [*identities, *absent]:
            if key in self.identities:
                raise {"email": EmailTaken, "phone": PhoneTaken}.get(key.split("#")[0], Conflict)()
        self.codes.consume(proof)
        self.users[user.user_id] = copy.deepcopy(user)
        self.identities.update({k: user.user_id for k in identities})
        self.verified.update(verified)
        self.wallets[wallet.wallet_id] = wallet

    def get(self, user_id: str) -> User | None:
        return copy.deepcopy(self.users.get(user_id))

    def user_id_for(self, key: str) -> str | None:
        return self.identities.get(key)

    def verified_user_for(self, key: str) -> str | None:
        return self.identities.get(key) if key in self.verified else None

    def confirm_email(self, user_id: str, email_key: str, proof: CodeProof | None,
                      password_hash: str | None = None) -> None:
        if self.identities.get(email_key) != user_id:
            raise Conflict()
        self.codes.consume(proof)
        self.users[user_id].email_verified = True
        self.users[user_id].unverified_since = None
        if password_hash is not None:
            self.users[user_id].password_hash = password_hash
            self.users[user_id].auth_epoch += 1
            self.users[user_id].kept_device = None
        self.verified.add(email_key)

    def confirm_phone(self, user_id: str, phone_key: str, phone_ct: str, proof: CodeProof, created_at: str) -> None:
        c = self.codes.codes.get(proof.key)
        if c is None or c.code_hash != proof.code_hash or c.tries > MAX_TRIES:
            raise CodeExpired()
        if self.users[user_id].phone_ct != phone_ct:
            raise Conflict()
        if phone_key in self.identities:
            raise PhoneTaken()
        self.codes.consume(proof)
        self.users[user_id].phone_verified = True
        self.users[user_id].unverified_since = None
        self.identities[phone_key] = user_id
        self.verified.add(phone_key)

    def update_profile(self, user_id: str, names: dict[str, str], phone: PhoneChange | None) -> None:
        u = self.users[user_id]
        if phone:
            if phone.new_key in self.identities:
                raise PhoneTaken()
            if u.phone_ct != phone.old_ct or u.phone_verified != (phone.old_verified_key is not None):
                raise Conflict()
            if phone.old_verified_key:
                self.identities.pop(phone.old_verified_key, None)
                self.verified.discard(phone.old_verified_key)
            u.phone_ct, u.phone_verified = phone.new_ct, False
        for name, ct in names.items():
            setattr(u, f"{name}_ct", ct)

    def link(self, key: str, user_id: str, created_at: str) -> str:
        return self.identities.setdefault(key, user_id)

    def release(self, key: str, user_id: str) -> bool:
        if self.identities.get(key) != user_id:
            return False
        del self.identities[key]
        self.verified.discard(key)
        return True

    def close_unproven(self, user_id: str, release: list[str], *, phone_too: bool,
                       phone_ct: str | None, phone_verified: bool) -> bool:
        u = self.users.get(user_id)
        if u is None or u.status == "closed" or u.email_verified or (phone_too and u.phone_verified):
            return False
        if (u.phone_ct, u.phone_verified) != (phone_ct, phone_verified):
            return False
        assert all(self.identities.get(k, user_id) == user_id for k in release)
        u.status, u.unverified_since = "closed", None
        u.auth_epoch, u.kept_device = u.auth_epoch + 1, None
        for key in release:
            self.release(key, user_id)
        return True

    def unverified_before(self, cutoff: int) -> list[str]:
        waiting = sorted((u.unverified_since, u.user_id) for u in self.users.values()
                         if u.unverified_since is not None and u.unverified_since < cutoff)
        return [user_id for _, user_id in waiting]

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

    # The logins, for the one write that checks the caller's (identity_env links them).
    sessions: FakeSessions | None = None

    def move_auth_epoch(self, user_id: str, epoch: int, *, session_id: str, keep: KeptDevice | None,
                        password_hash: str | None = None) -> bool:
        u = self.users[user_id]
        login = self.sessions.sessions.get(session_id) if self.sessions else None
        if u.auth_epoch != epoch or login is None or login.status != "active" or login.auth_epoch != epoch:
            return False
        u.auth_epoch, u.kept_device = epoch + 1, keep
        if password_hash is not None:
            u.password_hash = password_hash
        else:
            login.auth_epoch = epoch + 1
        return True

    def clear_password(self, user_id: str) -> bool:
        self.users[user_id].password_hash = None
        return True

    def mark_signed_in(self, user_id: str, at: str) -> bool:
        u = self.users[user_id]
        if u.signed_in_at is not None:
            return False
        u.signed_in_at = at
        return True


class FakeSessions:
    def __init__(self) -> None:
        self.sessions: dict[str, Session] = {}

    def create(self, session: Session, created_at: str) -> None:
        assert session.session_id not in self.sessions
        self.sessions[session.session_id] = dataclasses.replace(
            session, created_at=created_at, last_used_at=session.last_used_at or created_at)

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
        s.last_used_at = rfc3339(now)
        return True

    def revoke(self, session_id: str) -> None:
        if session_id in self.sessions:
            self.sessions[session_id].status = "revoked"

    def revoke_all(self, user_id: str) -> int:
        mine = [s for s in self.sessions.values() if s.user_id == user_id and s.status == "active"]
        for s in mine:
            s.status = "revoked"
        return len(mine)

    def live_of(self, user_id: str, now: int) -> list[Session]:
        return [copy.deepcopy(s) for s in self.sessions.values() if s.user_id == user_id and s.active_at(now)]

    def is_active(self, session_id: str, now: int) -> bool:
        s = self.sessions.get(session_id)
        return s is not None and s.status == "active" and s.expires_at > now


class FakeCounters:
    def __init__(self) -> None:
        self.rows: dict[str, tuple[int, int]] = {}
        self.sets: dict[str, tuple[set[str], int]] = {}  # key -> (members, window end)

    def current(self, key: str, now: int) -> tuple[int, int]:
        count, ends = self.rows.get(key, (0, 0))
        return (count, ends) if ends > now else (0, 0)

    def hit(self, key: str, now: int, window: int) -> tuple[int, int]:
        count, ends = self.current(key, now)
        self.rows[key] = (count + 1, ends) if ends else (1, now + window)
        return self.rows[key]

    def clear(self, key: str) -> None:
        self.rows.pop(key, None)

    def add_distinct(self, key: str, member: str, now: int, window: int, limit: int) -> tuple[bool, int]:
        members, ends = self.sets.get(key, (set(), 0))
        if ends <= now:  # no live window: a new one
            members, ends = set(), now + window
        if member not in members and len(members) >= limit:
            return False, ends
        self.sets[key] = (members | {member}, ends)
        return True, ends

    def admits(self, key: str, member: str, now: int, limit: int) -> tuple[bool, int]:
        members, ends = self.sets.get(key, (set(), 0))
        if ends <= now:
            return True, 0
        return member in members or len(members) < limit, ends


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
    find_reversal: Any = _unused
    refunds_of: Any = _unused

    def payout_amount(self, payout: dict[str, Any]) -> tuple[int, str]:
        amount = payout.get("amount")
        return (amount if isinstance(amount, int) else -1), str(payout.get("currency", "")).upper()
