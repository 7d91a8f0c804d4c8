"""Users, their identities (uniqueness + look-up) and the default wallet opened with them."""
from __future__ import annotations

from typing import Any

from chalicelib.adapters.dynamodb.connection import reason_codes, transact
from chalicelib.adapters.dynamodb.models import IdentityRecord, UserRecord, WalletRecord
from chalicelib.domain.errors import Conflict, EmailTaken, PhoneTaken
from chalicelib.domain.user import NewWallet, User

_TAKEN = {"email": EmailTaken, "phone": PhoneTaken}


def default_wallet_key(owner_id: str, currency: str) -> str:
    return f"wallet#{owner_id}#{currency}"


def wallet_puts(wallet: NewWallet) -> list[tuple[Any, Any]]:
    """The items that open a wallet: the wallet and, for a default one, its uniqueness marker
    (so two concurrent "open if missing" never make two default wallets of one currency)."""
    puts: list[tuple[Any, Any]] = [(
        WalletRecord(wallet_id=wallet.wallet_id, owner_id=wallet.owner_id, currency=wallet.currency,
                     name=wallet.name, balance=0, held=0, available=0, status="active", kind="user",
                     is_default=wallet.is_default, created_at=wallet.created_at),
        WalletRecord.wallet_id.does_not_exist())]
    if wallet.is_default:
        puts.append((IdentityRecord(key=default_wallet_key(wallet.owner_id, wallet.currency),
                                    user_id=wallet.owner_id, wallet_id=wallet.wallet_id, created_at=wallet.created_at),
                     IdentityRecord.key.does_not_exist()))
    return puts
_FIELDS = ("user_id", "created_at", "status", "email_ct", "phone_ct", "first_name_ct", "last_name_ct",
           "password_hash", "mfa_enabled", "totp_secret_ct", "totp_pending_ct", "totp_last_step")


def _to_user(r: UserRecord) -> User:
    user = User(**{f: getattr(r, f) for f in _FIELDS})
    user.totp_last_step = int(r.totp_last_step or 0)
    user.recovery_codes = set(r.recovery_codes or ())
    return user


class DynamoUsers:
    def create(self, user: User, identities: list[str], wallet: NewWallet) -> None:
        """Put the user, its identity keys and its default wallet in ONE transaction.

        Each put is conditional on the key not existing, so of many concurrent registrations of
        one e-mail exactly one succeeds; the others learn which identity was taken.
        """
        from pynamodb.exceptions import TransactWriteError

        record = UserRecord(**{f: getattr(user, f) for f in _FIELDS})

        def write(tx: Any) -> None:
            tx.save(record, condition=UserRecord.user_id.does_not_exist())
            for key in identities:
                tx.save(IdentityRecord(key=key, user_id=user.user_id, created_at=user.created_at),
                        condition=IdentityRecord.key.does_not_exist())
            for model, condition in wallet_puts(wallet):
                tx.save(model, condition=condition)

        try:
            transact(write)
        except TransactWriteError as exc:
            codes = reason_codes(exc)
            for key, code in zip(identities, codes[1:1 + len(identities)], strict=False):
                if code == "ConditionalCheckFailed":
                    raise _TAKEN.get(key.split("#", 1)[0], Conflict)() from None
            raise

    def get(self, user_id: str) -> User | None:
        try:
            return _to_user(UserRecord.get(user_id, consistent_read=True))
        except UserRecord.DoesNotExist:
            return None

    def user_id_for(self, identity_key: str) -> str | None:
        try:
            return str(IdentityRecord.get(identity_key, consistent_read=True).user_id)
        except IdentityRecord.DoesNotExist:
            return None

    def link(self, identity_key: str, user_id: str, created_at: str) -> str:
        """Attach an identity to a user; the user it already belongs to if it was taken meanwhile."""
        from pynamodb.exceptions import PutError

        try:
            IdentityRecord(key=identity_key, user_id=user_id, created_at=created_at).save(
                condition=IdentityRecord.key.does_not_exist())
            return user_id
        except PutError as exc:
            if exc.cause_response_code != "ConditionalCheckFailedException":
                raise
        return self.user_id_for(identity_key) or user_id

    # -- conditional updates; each returns False when its condition did not hold ---------------
    def _update(self, user_id: str, actions: list[Any], condition: Any = None) -> bool:
        from pynamodb.exceptions import UpdateError

        cond = UserRecord.user_id.exists() if condition is None else (UserRecord.user_id.exists() & condition)
        try:
            UserRecord(user_id=user_id).update(actions=actions, condition=cond)
        except UpdateError as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def set_pending_totp(self, user_id: str, secret_ct: str) -> bool:
        return self._update(user_id, [UserRecord.totp_pending_ct.set(secret_ct)],
                            UserRecord.mfa_enabled == False)  # noqa: E712 - a DynamoDB condition

    def enable_totp(self, user_id: str, pending_ct: str, step: int, code_hashes: set[str]) -> bool:
        """Turn 2FA on with the pending secret, unless it changed or 2FA was turned on meanwhile."""
        return self._update(user_id, [
            UserRecord.mfa_enabled.set(True), UserRecord.totp_secret_ct.set(pending_ct),
            UserRecord.totp_pending_ct.remove(), UserRecord.totp_last_step.set(step),
            UserRecord.recovery_codes.set(code_hashes),
        ], (UserRecord.totp_pending_ct == pending_ct) & (UserRecord.mfa_enabled == False))  # noqa: E712

    def disable_totp(self, user_id: str) -> bool:
        return self._update(user_id, [
            UserRecord.mfa_enabled.set(False), UserRecord.totp_secret_ct.remove(),
            UserRecord.totp_pending_ct.remove(), UserRecord.recovery_codes.remove(),
        ], UserRecord.mfa_enabled == True)  # noqa: E712

    def use_totp_step(self, user_id: str, step: int) -> bool:
        """Record a TOTP time step as used: False if it (or a later one) was used already."""
        return self._update(user_id, [UserRecord.totp_last_step.set(step)],
                            (UserRecord.mfa_enabled == True) & (UserRecord.totp_last_step < step))  # noqa: E712

    def use_recovery_code(self, user_id: str, code_hash: str) -> bool:
        return self._update(user_id, [UserRecord.recovery_codes.delete({code_hash})],
                            UserRecord.recovery_codes.contains(code_hash))

    def set_password(self, user_id: str, password_hash: str) -> bool:
        return self._update(user_id, [UserRecord.password_hash.set(password_hash)])

    def clear_password(self, user_id: str) -> bool:
        return self._update(user_id, [UserRecord.password_hash.remove()])
