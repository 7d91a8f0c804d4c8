"""Users, their identities (uniqueness + look-up) and the default wallet opened with them."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from chalicelib.adapters.dynamodb.connection import reason_codes, transact
from chalicelib.adapters.dynamodb.models import (
    UNVERIFIED,
    AccountStatusRecord,
    CodeRecord,
    IdentityRecord,
    SessionRecord,
    UserRecord,
    WalletRecord,
    written,
)
from chalicelib.domain.errors import CodeExpired, Conflict, EmailTaken, PhoneTaken
from chalicelib.domain.user import CodeProof, KeptDevice, NewWallet, PhoneChange, User
from chalicelib.domain.verification import MAX_TRIES, USED

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


def verified_owner(r: IdentityRecord) -> str | None:
    """The user a contact's identity item names, only once the contact is verified."""
    return str(r.user_id) if r.verified else None


def _consume(tx: Any, proof: CodeProof) -> None:
    """Use the code up (it stays, burned, so a second use answers "expired" like any dead
    code), only if it is still this code and unused: of two concurrent confirmations, one wins."""
    tx.update(CodeRecord(key=proof.key), actions=[CodeRecord.tries.set(USED)],
              condition=(CodeRecord.code_hash == proof.code_hash) & (CodeRecord.tries <= MAX_TRIES))


# What ends every login and device token signed in before (domain.user.User.auth_epoch): an
# atomic ADD, so two changes that race both count.
_NEW_EPOCH = UserRecord.auth_epoch.add(1)


def _epoch_is(attribute: Any, epoch: int) -> Any:
    """An auth epoch (the account's, or the one a login is stamped with) is still the one read;
    absent reads as 0."""
    return (attribute == epoch) | attribute.does_not_exist() if epoch == 0 else attribute == epoch


def _keeping(device: KeptDevice | None) -> list[Any]:
    """The epoch bump's companion: which device's token it carries over (none: forget any)."""
    return [UserRecord.kept_device.set(device.encode()) if device else UserRecord.kept_device.remove()]

# A verified contact takes the account out of the unverified index, for good: from then on the
# 7-day closing never considers it (and the same transaction makes it so, so the two race safely).
_PROVEN = [UserRecord.unverified.remove(), UserRecord.unverified_since.remove()]

_FIELDS = ("user_id", "created_at", "status", "email_ct", "phone_ct", "first_name_ct", "last_name_ct",
           "email_verified", "phone_verified", "password_hash", "mfa_enabled", "totp_secret_ct", "totp_pending_ct",
           "totp_last_step", "signed_in_at", "unverified_since", "auth_epoch")


def _unverified(attribute: Any) -> Any:
    return (attribute == False) | attribute.does_not_exist()  # noqa: E712 - a DynamoDB condition


def _to_user(r: UserRecord) -> User:
    user = User(**{f: getattr(r, f) for f in _FIELDS})
    user.totp_last_step = int(r.totp_last_step or 0)
    user.unverified_since = int(r.unverified_since) if r.unverified_since is not None else None
    user.auth_epoch = int(r.auth_epoch or 0)
    user.kept_device = KeptDevice.decode(r.kept_device)
    user.email_verified, user.phone_verified = bool(r.email_verified), bool(r.phone_verified)
    user.recovery_codes = set(r.recovery_codes or ())
    return user


class DynamoUsers:
    def create(self, user: User, identities: list[str], wallet: NewWallet, *, verified: tuple[str, ...] = (),
               absent: tuple[str, ...] = (), proof: CodeProof | None = None) -> None:
        """Put the user, its identity keys and its default wallet in ONE transaction.

        Each put is conditional on the key not existing, so of many concurrent registrations of
        one e-mail exactly one succeeds; the others learn which identity was taken. `absent`
        keys (an unverified phone's) are only checked: nobody may own them verified. `proof`,
        the code that proved the e-mail (a password reset taking an address back), is used up
        in the same transaction (CodeExpired if it was used meanwhile).
        """
        from pynamodb.exceptions import TransactWriteError

        record = UserRecord(**{f: getattr(user, f) for f in _FIELDS})
        if user.unverified_since is not None:
            record.unverified = UNVERIFIED  # into the sparse index the 7-day closing reads

        def write(tx: Any) -> None:
            tx.save(record, condition=UserRecord.user_id.does_not_exist())
            for key in identities:
                tx.save(IdentityRecord(key=key, user_id=user.user_id, created_at=user.created_at,
                                       verified=True if key in verified else None),
                        condition=IdentityRecord.key.does_not_exist())
            for key in absent:
                tx.condition_check(IdentityRecord, key, condition=IdentityRecord.key.does_not_exist())
            for model, condition in wallet_puts(wallet):
                tx.save(model, condition=condition)
            # The item every payment checks (models.AccountStatusRecord), after the puts whose
            # failures are read below; the user's put carries the condition.
            tx.save(AccountStatusRecord(user_id=user.user_id, status=user.status))
            if proof:
                _consume(tx, proof)

        try:
            transact(write)
        except TransactWriteError as exc:
            # In the order DynamoDB got them (condition checks first, then puts, then the code's
            # update, last): see _contact_write.
            codes = reason_codes(exc)
            keys = [*absent, None, *identities]
            for key, code in zip(keys, codes, strict=False):
                if key and code == "ConditionalCheckFailed":
                    raise _TAKEN.get(key.split("#", 1)[0], Conflict)() from None
            if proof and codes and codes[-1] == "ConditionalCheckFailed":
                raise CodeExpired() from None
            raise

    def verified_user_for(self, identity_key: str) -> str | None:
        """The owner of a contact, only if verified: a payment address (guarantee 11)."""
        r = IdentityRecord.find(identity_key)
        return verified_owner(r) if r else None

    # -- contacts: each change in one transaction with the identity item it guards --------------
    def confirm_email(self, user_id: str, email_key: str, proof: CodeProof | None,
                      password_hash: str | None = None) -> None:
        """Mark the e-mail verified (and, for a password reset, set the password and end every
        login signed in before), consuming the code that proved it."""
        actions: list[Any] = [UserRecord.email_verified.set(True), *_PROVEN]
        if password_hash is not None:
            actions += [UserRecord.password_hash.set(password_hash), _NEW_EPOCH, *_keeping(None)]

        def write(tx: Any) -> None:
            if proof:
                _consume(tx, proof)
            tx.update(UserRecord(user_id=user_id), actions=actions, condition=UserRecord.user_id.exists())
            tx.update(IdentityRecord(key=email_key), actions=[IdentityRecord.verified.set(True)],
                      condition=IdentityRecord.user_id == user_id)

        self._contact_write(write, ["code", "user", "identity"] if proof else ["user", "identity"], Conflict)

    def confirm_phone(self, user_id: str, phone_key: str, phone_ct: str, proof: CodeProof, created_at: str) -> None:
        """The phone becomes the account's (its identity item is put, if nobody verified it first)."""
        def write(tx: Any) -> None:
            _consume(tx, proof)
            tx.update(UserRecord(user_id=user_id), actions=[UserRecord.phone_verified.set(True), *_PROVEN],
                      condition=(UserRecord.phone_ct == phone_ct))
            tx.save(IdentityRecord(key=phone_key, user_id=user_id, created_at=created_at, verified=True),
                    condition=IdentityRecord.key.does_not_exist())

        self._contact_write(write, ["identity", "code", "user"], PhoneTaken)

    def update_profile(self, user_id: str, names: dict[str, str], phone: PhoneChange | None) -> None:
        """New names (ciphertexts) and, optionally, a new unverified phone: the old phone's
        identity is freed and the new one checked free in the same transaction."""
        actions = [getattr(UserRecord, f"{name}_ct").set(ct) for name, ct in names.items()]
        condition = UserRecord.user_id.exists()
        if phone:
            actions += [UserRecord.phone_ct.set(phone.new_ct), UserRecord.phone_verified.set(False)]
            condition &= (UserRecord.phone_ct == phone.old_ct) if phone.old_ct else UserRecord.phone_ct.does_not_exist()
            # Also as verified (or not) as it was read: a confirmation committed meanwhile would
            # otherwise leave the old phone's identity item behind, owned and unremovable.
            condition &= ((UserRecord.phone_verified == True) if phone.old_verified_key  # noqa: E712
                          else ((UserRecord.phone_verified == False)  # noqa: E712
                                | UserRecord.phone_verified.does_not_exist()))

        def write(tx: Any) -> None:
            tx.update(UserRecord(user_id=user_id), actions=actions, condition=condition)
            if phone:
                tx.condition_check(IdentityRecord, phone.new_key, condition=IdentityRecord.key.does_not_exist())
                if phone.old_verified_key:
                    tx.delete(IdentityRecord(key=phone.old_verified_key), condition=IdentityRecord.user_id == user_id)

        roles = ["identity", "old", "user"] if phone and phone.old_verified_key else ["identity", "user"]
        self._contact_write(write, roles if phone else ["user"], PhoneTaken)

    @staticmethod
    def _contact_write(write: Any, roles: list[str], taken: type[Exception]) -> None:
        """Run a contact transaction; a failed condition becomes the error it means. `roles`
        names the items in the order DynamoDB receives them: PynamoDB sends condition checks,
        then deletes, then puts, then updates, whatever order they were added in."""
        from pynamodb.exceptions import TransactWriteError

        try:
            transact(write)
        except TransactWriteError as exc:
            failed = {role for role, code in zip(roles, reason_codes(exc), strict=False)
                      if code == "ConditionalCheckFailed"}
            if "code" in failed:
                raise CodeExpired() from None  # used or replaced meanwhile
            if "identity" in failed:
                raise taken() from None
            if failed:  # the user (or its old phone) changed since it was read
                raise Conflict("The account changed meanwhile; try again.") from None
            raise

    def get(self, user_id: str) -> User | None:
        r = UserRecord.find(user_id)
        return _to_user(r) if r else None

    def user_id_for(self, identity_key: str) -> str | None:
        r = IdentityRecord.find(identity_key)
        return str(r.user_id) if r else None

    def link(self, identity_key: str, user_id: str, created_at: str) -> str:
        """Attach an identity to a user; the user it already belongs to if it was taken meanwhile."""
        record = IdentityRecord(key=identity_key, user_id=user_id, created_at=created_at)
        if written(lambda: record.save(condition=IdentityRecord.key.does_not_exist())):
            return user_id
        return self.user_id_for(identity_key) or user_id

    def release(self, identity_key: str, user_id: str) -> bool:
        """Delete an identity item, only if it still names `user_id` (a closed account's)."""
        return written(lambda: IdentityRecord(key=identity_key).delete(condition=IdentityRecord.user_id == user_id))

    # -- closing accounts nobody proved owning ---------------------------------------------------
    def close_unproven(self, user_id: str, release: list[str], *, phone_too: bool,
                       phone_ct: str | None, phone_verified: bool) -> bool:
        """Close the account and delete the identity items in `release` (its e-mail, so the
        address is free again; any verified phone) in ONE transaction, on the condition that
        its e-mail is still unverified (and, `phone_too`, its phone as well) and it is not
        closed already: of a verification and a closing that race, exactly one wins. The
        phone must still be as the caller read it (`phone_ct`, `phone_verified`), so one
        verified meanwhile never stays keyed to a closed account, outside `release`. False
        when that condition no longer holds."""
        from pynamodb.exceptions import TransactWriteError

        unproven = _unverified(UserRecord.email_verified)
        if phone_too:
            unproven &= _unverified(UserRecord.phone_verified)
        # The ciphertext is the phone's version: every write of a number encrypts it afresh.
        same_phone = (UserRecord.phone_ct == phone_ct) if phone_ct else UserRecord.phone_ct.does_not_exist()
        same_phone &= (UserRecord.phone_verified == True) if phone_verified else _unverified(  # noqa: E712
            UserRecord.phone_verified)
        condition = UserRecord.user_id.exists() & (UserRecord.status != "closed") & unproven & same_phone

        def write(tx: Any) -> None:
            tx.update(UserRecord(user_id=user_id),
                      actions=[UserRecord.status.set("closed"), *_PROVEN, _NEW_EPOCH, *_keeping(None)],
                      condition=condition)
            # With the item every payment checks (models.AccountStatusRecord): no condition,
            # the user's update above carries it.
            tx.save(AccountStatusRecord(user_id=user_id, status="closed"))
            for key in release:
                # Gone already is fine; someone else's (taken since) is not ours to delete.
                tx.delete(IdentityRecord(key=key),
                          condition=(IdentityRecord.user_id == user_id) | IdentityRecord.key.does_not_exist())

        try:
            transact(write)
        except TransactWriteError as exc:
            # Deletes and puts reach DynamoDB before updates (see _contact_write): the user is last.
            codes = reason_codes(exc)
            if len(codes) == len(release) + 2 and codes[-1] == "ConditionalCheckFailed":
                return False
            raise
        return True

    def unverified_before(self, cutoff: int) -> Iterator[str]:
        """Ids of accounts still without a verified contact since before `cutoff` (epoch
        seconds), oldest first, read page by page as consumed (the sparse index: eventually
        consistent, so whoever acts on one re-checks it in its write)."""
        for r in UserRecord.by_unverified.query(UNVERIFIED, UserRecord.unverified_since < cutoff):
            yield str(r.user_id)

    # -- conditional updates; each returns False when its condition did not hold ---------------
    def _update(self, user_id: str, actions: list[Any], condition: Any = None) -> bool:
        cond = UserRecord.user_id.exists() if condition is None else (UserRecord.user_id.exists() & condition)
        return written(lambda: UserRecord(user_id=user_id).update(actions=actions, condition=cond))

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

    def move_auth_epoch(self, user_id: str, epoch: int, *, session_id: str, keep: KeptDevice | None,
                        password_hash: str | None = None) -> bool:
        """A credential change made from one login, in ONE transaction: the account's auth epoch
        moves from `epoch` (as read) to the next, carrying `keep`'s device token over (and, with
        `password_hash`, the password changes); the caller's login must still be active and
        stamped `epoch`: with a password it is only checked (every login ends next), without
        one ("sign out everywhere else") it is carried over to the new epoch in the same write.
        A reset, another change or the login's ending in between (even a DELETE of it alone,
        which moves no epoch) makes it refuse: False, nothing written."""
        from pynamodb.exceptions import TransactWriteError

        actions = [_NEW_EPOCH, *_keeping(keep)]
        if password_hash is not None:
            actions.append(UserRecord.password_hash.set(password_hash))
        login_current = (SessionRecord.status == "active") & _epoch_is(SessionRecord.auth_epoch, epoch)

        def write(tx: Any) -> None:
            tx.update(UserRecord(user_id=user_id), actions=actions,
                      condition=UserRecord.user_id.exists() & _epoch_is(UserRecord.auth_epoch, epoch))
            if password_hash is not None:
                tx.condition_check(SessionRecord, session_id, condition=login_current)
            else:
                tx.update(SessionRecord(session_id=session_id), actions=[SessionRecord.auth_epoch.set(epoch + 1)],
                          condition=login_current)

        try:
            transact(write)
        except TransactWriteError as exc:
            if "ConditionalCheckFailed" in reason_codes(exc):
                return False
            raise
        return True

    def clear_password(self, user_id: str) -> bool:
        return self._update(user_id, [UserRecord.password_hash.remove()])

    def mark_signed_in(self, user_id: str, at: str) -> bool:
        """Record the account's first sign-in; False if it had one already (set once)."""
        return self._update(user_id, [UserRecord.signed_in_at.set(at)], UserRecord.signed_in_at.does_not_exist())
