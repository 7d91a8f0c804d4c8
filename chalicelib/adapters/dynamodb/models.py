"""PynamoDB models: the single definition of every table.

Table names and endpoints are not known at import time (they depend on the stage), so each model
declares a short `table` name and `bind()` in `tables.py` fills in the real name and host.
Sensitive attributes end in `_ct`: ciphertext from `adapters.crypto`, never plain values.
"""
from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any, Self

from pynamodb.attributes import (
    BinaryAttribute,
    BooleanAttribute,
    ListAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, KeysOnlyProjection, LocalSecondaryIndex
from pynamodb.models import Model

from chalicelib.adapters.dynamodb.errors import condition_failed


class BaseModel(Model):
    """Common settings; `table` is the short name, `Meta.table_name` is set by `tables.bind`."""

    table: str = ""
    ttl_attribute: str | None = None

    class Meta:
        abstract = True
        billing_mode = "PAY_PER_REQUEST"

    @classmethod
    def find(cls, hash_key: Any, range_key: Any = None) -> Self | None:
        """The item, read strongly consistent, or None if there is none."""
        try:
            return cls.get(hash_key, range_key, consistent_read=True)
        except cls.DoesNotExist:
            return None


def written(write: Callable[[], Any]) -> bool:
    """Run one conditional PynamoDB write (save, update, delete); False when its condition did
    not hold. Any other failure is raised."""
    from pynamodb.exceptions import DeleteError, PutError, UpdateError

    try:
        write()
    except (PutError, UpdateError, DeleteError) as exc:
        if condition_failed(exc):
            return False
        raise
    return True


class StripeEventRecord(BaseModel):
    """One Stripe event we received, keyed by its id: the de-duplication record."""

    table = "stripe_events"
    ttl_attribute = "expires_at"

    class Meta(BaseModel.Meta):
        abstract = False
        table_name = "stripe_events"

    event_id = UnicodeAttribute(hash_key=True)
    type = UnicodeAttribute()
    object_id = UnicodeAttribute(null=True)
    status = UnicodeAttribute()  # received | applied
    outcome = UnicodeAttribute(null=True)
    received_at = UnicodeAttribute()
    expires_at = NumberAttribute()


UNVERIFIED = "u"  # the one partition of the sparse index of unverified accounts


class UnverifiedUsers(GlobalSecondaryIndex["UserRecord"]):
    """Accounts nobody proved owning (no verified e-mail or phone), oldest first: the job that
    closes them after 7 days reads this. Sparse: the attributes exist from registration until a
    contact is verified, so the index holds only the accounts it is for (one partition: fine
    for the registrations of a few hundred a second; shard `unverified` by day if ever not)."""

    class Meta:
        index_name = "unverified"
        projection = KeysOnlyProjection()

    unverified = UnicodeAttribute(hash_key=True)
    unverified_since = NumberAttribute(range_key=True)


class UserRecord(BaseModel):
    table = "users"

    class Meta(BaseModel.Meta):
        abstract = False
        table_name = "users"

    user_id = UnicodeAttribute(hash_key=True)
    created_at = UnicodeAttribute()
    status = UnicodeAttribute(default="active")
    email_ct = UnicodeAttribute(null=True)
    phone_ct = UnicodeAttribute(null=True)
    first_name_ct = UnicodeAttribute(null=True)
    last_name_ct = UnicodeAttribute(null=True)
    email_verified = BooleanAttribute(default=False)
    # The phone is an (encrypted) attribute until it is verified; only then does it get an
    # identity item, so several accounts may hold one number unverified (first to verify wins).
    phone_verified = BooleanAttribute(default=False)
    password_hash = UnicodeAttribute(null=True)
    mfa_enabled = BooleanAttribute(default=False)
    totp_secret_ct = UnicodeAttribute(null=True)
    totp_pending_ct = UnicodeAttribute(null=True)
    totp_last_step = NumberAttribute(default=0)
    recovery_codes = UnicodeSetAttribute(null=True)
    stripe_customer_id = UnicodeAttribute(null=True)
    payout_account_id = UnicodeAttribute(null=True)
    payout_status = UnicodeAttribute(null=True)
    signed_in_at = UnicodeAttribute(null=True)  # the first sign-in (set once: domain.user.User)
    unverified = UnicodeAttribute(null=True)  # UNVERIFIED while no contact is verified (sparse index)
    unverified_since = NumberAttribute(null=True)  # epoch seconds: when it was registered unverified
    # Bumped (ADD 1) by a password reset or change, "sign out everywhere else" and closing: a
    # login or device token stamped with an older one is no longer honoured (domain.user.User).
    auth_epoch = NumberAttribute(null=True)
    # "<since>:<device key>": the device whose token the last bump carried over (domain.user.KeptDevice).
    kept_device = UnicodeAttribute(null=True)
    by_unverified = UnverifiedUsers()


class AccountStatusRecord(BaseModel):
    """An account's status (active, frozen, closed) in an item of its own, beside the user's.

    Every payment's transaction checks that its payer may send money; a condition check is
    billed like a write, by the size of the item it reads, and a user item grows past 1 KB with
    a phone, names or 2FA. This item stays under 100 B, so the check costs 2 WCU for everyone.
    Every change of status writes it with the user's, in one transaction. An account whose
    status changed before the item existed has none: the check fails closed, and the ledger
    writes it from the user's status, once, before trying again (adapters.dynamodb.account_status)."""

    table = "account_status"

    class Meta(BaseModel.Meta):
        abstract = False
        table_name = "account_status"

    user_id = UnicodeAttribute(hash_key=True)
    status = UnicodeAttribute()


class IdentityRecord(BaseModel):
    """Uniqueness and look-up: "email#<hmac>", "phone#<hmac>", "google#<sub>" -> user id;
    "wallet#<user>#<currency>" -> the user's default wallet of that currency.

    An e-mail item exists from registration (e-mail is unique per account) and is a payment
    address only once `verified`; a phone item exists only once the phone is verified."""

    table = "identities"

    class Meta(BaseModel.Meta):
        abstract = False
        table_name = "identities"

    key = UnicodeAttribute(hash_key=True)
    user_id = UnicodeAttribute()
    created_at = UnicodeAttribute()
    wallet_id = UnicodeAttribute(null=True)
    verified = BooleanAttribute(null=True)


class CodeRecord(BaseModel):
    """One live one-time code per (purpose, subject): hashes only (domain.verification)."""

    table = "codes"
    ttl_attribute = "purge_at"

    class Meta(BaseModel.Meta):
        abstract = False
        table_name = "codes"

    key = UnicodeAttribute(hash_key=True)  # <purpose>#<user id, or the e-mail's blind index>
    code_hash = UnicodeAttribute()
    target = UnicodeAttribute()
    expires_at = NumberAttribute()
    tries = NumberAttribute(default=0)
    replaced = ListAttribute(of=UnicodeAttribute, null=True)
    purge_at = NumberAttribute()


class WalletsByOwner(GlobalSecondaryIndex["WalletRecord"]):
    class Meta:
        index_name = "by-owner"
        projection = AllProjection()

    owner_id = UnicodeAttribute(hash_key=True)
    created_at = UnicodeAttribute(range_key=True)


class WalletRecord(BaseModel):
    table = "wallets"

    class Meta(BaseModel.Meta):
        abstract = False
        table_name = "wallets"

    wallet_id = UnicodeAttribute(hash_key=True)
    owner_id = UnicodeAttribute()
    currency = UnicodeAttribute()
    name = UnicodeAttribute()
    # available = balance - held, kept explicitly because a DynamoDB condition cannot do
    # arithmetic: the no-overdraft check is `available >= :amount` inside the transaction.
    balance = NumberAttribute(default=0)
    held = NumberAttribute(default=0)
    available = NumberAttribute(default=0)
    status = UnicodeAttribute(default="active")
    kind = UnicodeAttribute(default="user")  # user | system | credit_shard
    is_default = BooleanAttribute(default=False)
    created_at = UnicodeAttribute()
    # A high-volume wallet: how many credit shards it has. A shard is an item of its own
    # (`credit_shard_id`) with `shard_of` naming its wallet and no owner (so not in by-owner).
    credit_shards = NumberAttribute(null=True)
    shard_of = UnicodeAttribute(null=True)
    by_owner = WalletsByOwner()


class SessionsByUser(GlobalSecondaryIndex["SessionRecord"]):
    class Meta:
        index_name = "by-user"
        projection = AllProjection()

    user_id = UnicodeAttribute(hash_key=True)


class SessionRecord(BaseModel):
    """A login's refresh-token family; only hashes of the tokens are stored."""

    table = "sessions"
    ttl_attribute = "expires_at"

    class Meta(BaseModel.Meta):
        abstract = False
        table_name = "sessions"
        stream_view_type = "NEW_IMAGE"  # notifications (a sign-in from a new device) read this stream

    session_id = UnicodeAttribute(hash_key=True)
    user_id = UnicodeAttribute()
    current_hash = UnicodeAttribute()
    recent_hashes = ListAttribute(of=UnicodeAttribute, null=True)  # bounded: see domain.user.Session
    previous_hash = UnicodeAttribute(null=True)
    rotated_at = NumberAttribute(default=0)
    generation = NumberAttribute(default=0)
    status = UnicodeAttribute(default="active")
    created_at = UnicodeAttribute()
    last_used_at = UnicodeAttribute(null=True)  # the last sign-in or refresh, not every request
    user_agent = UnicodeAttribute(null=True)  # at most 256 printable characters
    device_key = UnicodeAttribute(null=True)  # a hash identifying the device token, never the token
    new_device = BooleanAttribute(default=False)
    auth_epoch = NumberAttribute(null=True)  # the account's auth_epoch when it signed in
    expires_at = NumberAttribute()
    by_user = SessionsByUser()


class CounterRecord(BaseModel):
    """Attempt counters (login and OTP failures) over a time window; or, for a distinct-member
    limit, the set of members seen in the window (`seen`: blind-index keys, never addresses)."""

    table = "counters"
    ttl_attribute = "expires_at"

    class Meta(BaseModel.Meta):
        abstract = False
        table_name = "counters"

    key = UnicodeAttribute(hash_key=True)
    failures = NumberAttribute(default=0)
    window_ends = NumberAttribute()
    expires_at = NumberAttribute()
    seen = UnicodeSetAttribute(null=True)


class TransferRecord(BaseModel):
    """One money movement; its two legs are entries. Written in the same transaction as the
    balances it changes."""

    table = "transfers"

    class Meta(BaseModel.Meta):
        abstract = False
        table_name = "transfers"

    transfer_id = UnicodeAttribute(hash_key=True)
    type = UnicodeAttribute()  # transfer | topup | withdrawal | refund | reversal
    status = UnicodeAttribute()  # posted | pending | voided
    from_wallet_id = UnicodeAttribute()
    to_wallet_id = UnicodeAttribute()
    from_owner = UnicodeAttribute()
    to_owner = UnicodeAttribute()
    amount = NumberAttribute()
    currency = UnicodeAttribute()
    memo_ct = UnicodeAttribute(null=True)
    request_hash = UnicodeAttribute(null=True)
    # POST /transfers: this record answers the request's retries (no idempotency record).
    answers_retries = BooleanAttribute(null=True)
    created_at = UnicodeAttribute()
    resolved_at = UnicodeAttribute(null=True)
    debit_sk = UnicodeAttribute(null=True)  # the debit entry's sort key, to resolve a hold
    # A payment delivered in another currency (its sell leg): what the recipient's wallet got
    # (docs/exchange.md); the quote that priced it.
    quote_id = UnicodeAttribute(null=True)
    delivered_to = UnicodeAttribute(null=True)
    delivered_amount = NumberAttribute(null=True)
    delivered_currency = UnicodeAttribute(null=True)


class EntriesByChain(GlobalSecondaryIndex["EntryRecord"]):
    """A chain's entries in chain order (docs/statements.md). Sparse: an entry is in it once the
    chainer has given it `chain` and `chain_seq`, so writing a movement costs nothing more."""

    class Meta:
        index_name = "by-chain"
        projection = AllProjection()

    chain = UnicodeAttribute(hash_key=True)
    chain_seq = NumberAttribute(range_key=True)


class EntryRecord(BaseModel):
    """One leg of a transfer on one wallet: the wallet statement, newest first by `sk`."""

    table = "entries"

    class Meta(BaseModel.Meta):
        abstract = False
        table_name = "entries"
        stream_view_type = "NEW_IMAGE"  # notifications (money received) read this stream

    wallet_id = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)  # <ms timestamp>#<transfer id>#<d|c>: time-ordered, unique
    transfer_id = UnicodeAttribute()
    type = UnicodeAttribute()
    direction = UnicodeAttribute()  # debit | credit
    amount = NumberAttribute()
    currency = UnicodeAttribute()
    status = UnicodeAttribute()  # posted | pending | voided
    counterparty_wallet_id = UnicodeAttribute(null=True)
    owner_id = UnicodeAttribute(null=True)
    memo_ct = UnicodeAttribute(null=True)  # the transfer's encrypted memo, so a statement needs no join
    created_at = UnicodeAttribute()
    # When it became posted (= created_at, or a hold's resolution); a high-volume wallet's credit
    # names the shard it landed on. The rest is the chainer's (docs/statements.md).
    posted_at = UnicodeAttribute(null=True)
    shard = UnicodeAttribute(null=True)
    chain = UnicodeAttribute(null=True)
    chain_seq = NumberAttribute(null=True)
    hash = UnicodeAttribute(null=True)
    prev_hash = UnicodeAttribute(null=True)
    by_chain = EntriesByChain()


class IdempotencyRecord(BaseModel):
    """(user, Idempotency-Key) -> the request's hash and the original response, written in the
    same transaction as the money it moved."""

    table = "idempotency"
    ttl_attribute = "expires_at"

    class Meta(BaseModel.Meta):
        abstract = False
        table_name = "idempotency"

    key = UnicodeAttribute(hash_key=True)  # <user id>#<sha256 of the client's key>
    request_hash = UnicodeAttribute()
    status_code = NumberAttribute()
    # The original response, encrypted (it may hold a memo or a client secret): the ESDK message
    # as bytes (`answer`), not base64 text (`response_ct`, records written before): a third
    # smaller, which keeps the record under 1 KB, so its write in a transfer's transaction
    # costs 2 write units instead of 4 (docs/capacity.md).
    answer = BinaryAttribute(null=True, legacy_encoding=False)
    response_ct = UnicodeAttribute(null=True)
    resource_id = UnicodeAttribute()
    created_at = UnicodeAttribute()
    expires_at = NumberAttribute()

    def sealed(self) -> str:
        """The answer as the cipher reads it (base64 text), whichever way it was stored."""
        if self.answer is not None:
            return base64.b64encode(self.answer).decode("ascii")
        return str(self.response_ct)


class DailyTotalRecord(BaseModel):
    """Outgoing total of one user in one currency on one UTC day (the daily limit)."""

    table = "daily_totals"
    ttl_attribute = "expires_at"

    class Meta(BaseModel.Meta):
        abstract = False
        table_name = "daily_totals"

    key = UnicodeAttribute(hash_key=True)  # <user id>#<currency>#<yyyy-mm-dd>
    total = NumberAttribute(default=0)
    expires_at = NumberAttribute()


class PaymentMethodsByUser(GlobalSecondaryIndex["PaymentMethodRecord"]):
    class Meta:
        index_name = "by-user"
        projection = AllProjection()

    user_id = UnicodeAttribute(hash_key=True)
    created_at = UnicodeAttribute(range_key=True)


class PaymentMethodRecord(BaseModel):
    """A card or bank account attached through Stripe: its id and encrypted display details."""

    table = "payment_methods"

    class Meta(BaseModel.Meta):
        abstract = False
        table_name = "payment_methods"

    payment_method_id = UnicodeAttribute(hash_key=True)
    user_id = UnicodeAttribute()
    stripe_pm_id = UnicodeAttribute()
    type = UnicodeAttribute()
    details_ct = UnicodeAttribute()  # brand, last4, expiry: encrypted, bound to the user
    status = UnicodeAttribute(default="active")
    created_at = UnicodeAttribute()
    by_user = PaymentMethodsByUser()


class TopUpsByIntent(GlobalSecondaryIndex["TopUpRecord"]):
    class Meta:
        index_name = "by-intent"
        projection = AllProjection()

    payment_intent_id = UnicodeAttribute(hash_key=True)


class TopUpRecord(BaseModel):
    """A top-up: created before Stripe is called (it claims the idempotency key), credited
    only by the payment_intent.succeeded event."""

    table = "topups"

    class Meta(BaseModel.Meta):
        abstract = False
        table_name = "topups"
        stream_view_type = "NEW_IMAGE"  # notifications (top-up succeeded or failed) read this stream

    topup_id = UnicodeAttribute(hash_key=True)
    user_id = UnicodeAttribute()
    wallet_id = UnicodeAttribute()
    payment_method_id = UnicodeAttribute()
    amount = NumberAttribute()
    currency = UnicodeAttribute()
    status = UnicodeAttribute()  # creating | pending | requires_action | succeeded | failed
    request_hash = UnicodeAttribute()
    payment_intent_id = UnicodeAttribute(null=True)
    client_secret_ct = UnicodeAttribute(null=True)
    response_ct = UnicodeAttribute(null=True)  # the first answer (encrypted), for idempotent replays
    refunded = NumberAttribute(default=0)
    refund_returned = NumberAttribute(null=True)  # failed refunds given back to the wallet
    disputed = NumberAttribute(default=0)
    shortfall = UnicodeAttribute(null=True)  # refund | dispute: money already spent, needs a person
    created_at = UnicodeAttribute()
    by_intent = TopUpsByIntent()


class WithdrawalsByPayout(GlobalSecondaryIndex["WithdrawalRecord"]):
    class Meta:
        index_name = "by-payout"
        projection = AllProjection()

    payout_id = UnicodeAttribute(hash_key=True)


class WithdrawalRecord(BaseModel):
    """A withdrawal: written in the same transaction as its hold. Each Stripe call that moves
    its money is marked as attempted before it is made and its id recorded as soon as Stripe
    answers, so a lost answer is looked up, never blindly repeated (docs/architecture.md)."""

    table = "withdrawals"

    class Meta(BaseModel.Meta):
        abstract = False
        table_name = "withdrawals"
        stream_view_type = "NEW_IMAGE"  # notifications (withdrawal paid or failed) read this stream

    withdrawal_id = UnicodeAttribute(hash_key=True)
    user_id = UnicodeAttribute()
    wallet_id = UnicodeAttribute()
    amount = NumberAttribute()
    currency = UnicodeAttribute()
    status = UnicodeAttribute()  # pending | paid | failed | needs_attention
    request_hash = UnicodeAttribute()
    transfer_attempted_at = NumberAttribute(null=True)  # Connect: when transfers.create was first called
    stripe_transfer_id = UnicodeAttribute(null=True)  # Connect: the transfer to the user's account
    payout_attempted_at = NumberAttribute(null=True)
    payout_id = UnicodeAttribute(null=True)
    reversal_id = UnicodeAttribute(null=True)  # Connect: the transfer taken back after a failed payout
    payout_barred_at = NumberAttribute(null=True)  # given back instead (frozen): no payout may be claimed
    attention_reason = UnicodeAttribute(null=True)  # why a person must decide (needs_attention)
    resolution = UnicodeAttribute(null=True)  # paid | failed: a person's decision (python -m ops)
    response_ct = UnicodeAttribute(null=True)  # the first complete answer (encrypted), for replays
    created_at = UnicodeAttribute()
    by_payout = WithdrawalsByPayout()


class InvitationsByContact(GlobalSecondaryIndex["InvitationRecord"]):
    class Meta:
        index_name = "by-contact"
        projection = AllProjection()

    contact_key = UnicodeAttribute(hash_key=True)
    created_at = UnicodeAttribute(range_key=True)


class InvitationsByStatus(GlobalSecondaryIndex["InvitationRecord"]):
    class Meta:
        index_name = "by-status"
        projection = AllProjection()

    status = UnicodeAttribute(hash_key=True)
    expires_at = NumberAttribute(range_key=True)


class InvitationRecord(BaseModel):
    """Money sent to a contact nobody has verified yet: written in the same transaction as its
    hold, and moved out of `unclaimed` in the same transaction as the hold's posting (claim) or
    voiding (cancel, expiry), each conditional on `unclaimed`: exactly one outcome."""

    table = "invitations"

    class Meta(BaseModel.Meta):
        abstract = False
        table_name = "invitations"
        stream_view_type = "NEW_IMAGE"  # notifications (an invitation claimed) read this stream

    transfer_id = UnicodeAttribute(hash_key=True)
    sender_id = UnicodeAttribute()
    wallet_id = UnicodeAttribute()
    contact_key = UnicodeAttribute()  # the contact's identity key (email#<hmac> | phone#<hmac>)
    amount = NumberAttribute()
    currency = UnicodeAttribute()
    status = UnicodeAttribute()  # unclaimed | posted | canceled | expired
    created_at = UnicodeAttribute()
    expires_at = NumberAttribute()
    claimed_by = UnicodeAttribute(null=True)
    resolved_at = NumberAttribute(null=True)
    by_contact = InvitationsByContact()
    by_status = InvitationsByStatus()


class RequestsByRequester(GlobalSecondaryIndex["PaymentRequestRecord"]):
    class Meta:
        index_name = "by-requester"
        projection = AllProjection()

    requester_id = UnicodeAttribute(hash_key=True)
    created_sk = UnicodeAttribute(range_key=True)


class RequestsByPayer(GlobalSecondaryIndex["PaymentRequestRecord"]):
    class Meta:
        index_name = "by-payer"
        projection = AllProjection()

    payer_id = UnicodeAttribute(hash_key=True)
    created_sk = UnicodeAttribute(range_key=True)


class RequestsWaiting(GlobalSecondaryIndex["PaymentRequestRecord"]):
    """Sparse: only pending requests carry `waiting`, so the expiry sweep reads nothing else."""

    class Meta:
        index_name = "waiting"
        projection = AllProjection()

    waiting = UnicodeAttribute(hash_key=True)
    expires_at = NumberAttribute(range_key=True)


class PaymentRequestRecord(BaseModel):
    """A payment request. It leaves `pending` once, on the condition that it is still pending:
    `paid` in the same transaction as the payment (domain.payment_request)."""

    table = "payment_requests"

    class Meta(BaseModel.Meta):
        abstract = False
        table_name = "payment_requests"
        stream_view_type = "NEW_IMAGE"  # notifications (received, paid, declined) read this stream

    request_id = UnicodeAttribute(hash_key=True)
    requester_id = UnicodeAttribute()
    payer_id = UnicodeAttribute()
    amount = NumberAttribute()
    currency = UnicodeAttribute()
    memo_ct = UnicodeAttribute(null=True)  # encrypted, bound to the request id
    status = UnicodeAttribute()  # pending | paid | declined | canceled | expired
    created_at = UnicodeAttribute()
    created_sk = UnicodeAttribute()  # <ms timestamp>#<request id>: newest first in both lists
    expires_at = NumberAttribute()
    waiting = UnicodeAttribute(null=True)  # "pending" while pending (RequestsWaiting)
    transfer_id = UnicodeAttribute(null=True)
    resolved_at = NumberAttribute(null=True)
    by_requester = RequestsByRequester()
    by_payer = RequestsByPayer()
    waiting_index = RequestsWaiting()


class NotificationsByTime(LocalSecondaryIndex["NotificationRecord"]):
    """A user's notifications, newest first (local: strongly consistent reads)."""

    class Meta:
        index_name = "by-time"
        projection = AllProjection()

    user_id = UnicodeAttribute(hash_key=True)
    created_sk = UnicodeAttribute(range_key=True)


class NotificationsUnread(LocalSecondaryIndex["NotificationRecord"]):
    """Sparse: only unread notifications carry `unread_sk`, so the unread count and "read all"
    read nothing else, consistently."""

    class Meta:
        index_name = "unread"
        projection = AllProjection()

    user_id = UnicodeAttribute(hash_key=True)
    unread_sk = UnicodeAttribute(range_key=True)


class NotificationRecord(BaseModel):
    """One notification for one user; its id comes from (type, subject, recipient), so one
    event is stored once however often the stream delivers it (domain.notification)."""

    table = "notifications"
    ttl_attribute = "expires_at"

    class Meta(BaseModel.Meta):
        abstract = False
        table_name = "notifications"

    user_id = UnicodeAttribute(hash_key=True)
    notification_id = UnicodeAttribute(range_key=True)
    type = UnicodeAttribute()
    created_sk = UnicodeAttribute()  # <ms timestamp>#<notification id>
    unread_sk = UnicodeAttribute(null=True)  # = created_sk while unread
    data_ct = UnicodeAttribute()  # encrypted JSON: ids, amount, currency, counterparty
    expires_at = NumberAttribute()
    by_time = NotificationsByTime()
    unread = NotificationsUnread()


class ConnectionsByUser(GlobalSecondaryIndex["ConnectionRecord"]):
    class Meta:
        index_name = "by-user"
        projection = AllProjection()

    user_id = UnicodeAttribute(hash_key=True)


class ConnectionRecord(BaseModel):
    """An open WebSocket connection of a user (API Gateway's connection id). Forgotten on
    disconnect, when a push finds it gone, or by its TTL (API Gateway ends a connection after
    2 hours)."""

    table = "connections"
    ttl_attribute = "expires_at"

    class Meta(BaseModel.Meta):
        abstract = False
        table_name = "connections"

    connection_id = UnicodeAttribute(hash_key=True)
    user_id = UnicodeAttribute()
    session_id = UnicodeAttribute(null=True)  # the login that opened it: pushes stop when it ends
    connected_at = NumberAttribute()
    expires_at = NumberAttribute()
    by_user = ConnectionsByUser()


class DevicesByUser(GlobalSecondaryIndex["OfflineDeviceRecord"]):
    class Meta:
        index_name = "by-user"
        projection = AllProjection()

    user_id = UnicodeAttribute(hash_key=True)
    created_at = UnicodeAttribute(range_key=True)


class OfflineDeviceRecord(BaseModel):
    """A device that may receive offline allowances for its Ed25519 key (domain.offline)."""

    table = "offline_devices"

    class Meta(BaseModel.Meta):
        abstract = False
        table_name = "offline_devices"

    device_id = UnicodeAttribute(hash_key=True)
    user_id = UnicodeAttribute()
    public_key = UnicodeAttribute()  # base64url raw Ed25519 public key: public by nature
    name_ct = UnicodeAttribute(null=True)  # encrypted, bound to the device id
    status = UnicodeAttribute()  # active | revoked | frozen
    created_at = UnicodeAttribute()
    by_user = DevicesByUser()


class AllowancesByUser(GlobalSecondaryIndex["AllowanceRecord"]):
    class Meta:
        index_name = "by-user"
        projection = AllProjection()

    user_id = UnicodeAttribute(hash_key=True)
    created_sk = UnicodeAttribute(range_key=True)


class AllowancesToRelease(GlobalSecondaryIndex["AllowanceRecord"]):
    """Sparse: only open allowances carry `releasing`, soonest release first."""

    class Meta:
        index_name = "to-release"
        projection = AllProjection()

    releasing = UnicodeAttribute(hash_key=True)
    release_at = NumberAttribute(range_key=True)


class AllowanceRecord(BaseModel):
    """An offline allowance: its hold is the pending transfer `hold_id`, whose amount is what is
    left; `spent` rises with each redemption in the same transaction, never past `amount`."""

    table = "allowances"

    class Meta(BaseModel.Meta):
        abstract = False
        table_name = "allowances"

    allowance_id = UnicodeAttribute(hash_key=True)
    user_id = UnicodeAttribute()
    device_id = UnicodeAttribute()
    wallet_id = UnicodeAttribute()
    amount = NumberAttribute()
    currency = UnicodeAttribute()
    spent = NumberAttribute()
    status = UnicodeAttribute()  # open | closed
    expires_at = NumberAttribute()
    release_at = NumberAttribute()
    releasing = UnicodeAttribute(null=True)  # "open" while open (AllowancesToRelease)
    created_at = UnicodeAttribute()
    created_sk = UnicodeAttribute()  # <ms timestamp>#<allowance id>: newest first
    certificate = UnicodeAttribute()
    hold_id = UnicodeAttribute()
    kid = UnicodeAttribute()
    closed_at = NumberAttribute(null=True)
    by_user = AllowancesByUser()
    to_release = AllowancesToRelease()


class RedemptionRecord(BaseModel):
    """(allowance, seq) credited: written `attribute_not_exists` with the money, so each seq is
    credited at most once; the voucher's hash tells a replay from a double spend."""

    table = "redemptions"

    class Meta(BaseModel.Meta):
        abstract = False
        table_name = "redemptions"

    allowance_id = UnicodeAttribute(hash_key=True)
    seq = NumberAttribute(range_key=True)
    voucher_hash = UnicodeAttribute()
    voucher = UnicodeAttribute()  # the compact JWS: evidence if another voucher claims this seq
    payee_id = UnicodeAttribute()
    transfer_id = UnicodeAttribute()
    amount = NumberAttribute()
    created_at = UnicodeAttribute()


class DoubleSpendRecord(BaseModel):
    """Evidence of a double spend for a person: both vouchers of one (allowance, seq)."""

    table = "double_spends"

    class Meta(BaseModel.Meta):
        abstract = False
        table_name = "double_spends"

    evidence_id = UnicodeAttribute(hash_key=True)
    allowance_id = UnicodeAttribute()
    seq = NumberAttribute()
    device_id = UnicodeAttribute()
    owner_id = UnicodeAttribute()
    first_voucher = UnicodeAttribute()
    second_voucher = UnicodeAttribute()
    presented_by = UnicodeAttribute()
    created_at = UnicodeAttribute()


class AuditRecord(BaseModel):
    """One operator action (`python -m ops`): append-only. Written with a condition that the
    item is new, never updated or deleted (the deployed table's resource policy denies both to
    everyone); one partition, sorted by time, because operators act a few times a day."""

    table = "audit"

    class Meta(BaseModel.Meta):
        abstract = False
        table_name = "audit"

    log = UnicodeAttribute(hash_key=True)  # always AUDIT_LOG
    sk = UnicodeAttribute(range_key=True)  # "<RFC 3339 time>#<audit id>"
    audit_id = UnicodeAttribute()
    at = UnicodeAttribute()
    actor = UnicodeAttribute()  # the caller's identity (IAM ARN; locally also the OS user)
    command = UnicodeAttribute()
    target = UnicodeAttribute()
    reason_ct = UnicodeAttribute(null=True)  # free text a person typed: encrypted like every such field
    outcome = UnicodeAttribute()
    before = UnicodeAttribute(null=True)  # JSON: ids, statuses and amounts only
    after = UnicodeAttribute(null=True)


class FxRatesRecord(BaseModel):
    """Reference rates (the ECB's daily file, docs/exchange.md): `latest`, and one item per
    published day. Rates are decimal strings in a JSON object, never numbers parsed as float."""

    table = "fx_rates"

    class Meta(BaseModel.Meta):
        abstract = False
        table_name = "fx_rates"

    rates_id = UnicodeAttribute(hash_key=True)  # "latest" | "day#YYYY-MM-DD"
    as_of = UnicodeAttribute()
    rates = UnicodeAttribute()  # {"USD": "1.0812", ...}
    fetched_at = UnicodeAttribute()


class FxQuoteRecord(BaseModel):
    """A guaranteed quote: open until `expires_ms`, then `used` once by the transfer that
    executed it (in that transfer's transaction). An unused quote is purged by TTL
    (`purge_at`); a used one keeps its record (the TTL attribute is removed)."""

    table = "fx_quotes"
    ttl_attribute = "purge_at"

    class Meta(BaseModel.Meta):
        abstract = False
        table_name = "fx_quotes"

    quote_id = UnicodeAttribute(hash_key=True)
    owner_id = UnicodeAttribute()
    sell_amount = NumberAttribute()
    sell_currency = UnicodeAttribute()
    buy_amount = NumberAttribute()
    buy_currency = UnicodeAttribute()
    mid_rate = UnicodeAttribute()  # decimal strings: exact
    rate = UnicodeAttribute()
    fee_amount = NumberAttribute()
    spread_bps = NumberAttribute()
    rates_as_of = UnicodeAttribute()
    created_ms = NumberAttribute()
    expires_ms = NumberAttribute()
    status = UnicodeAttribute(default="open")  # open | used
    used_by = UnicodeAttribute(null=True)  # the transfer (sell leg) that executed it
    purge_at = NumberAttribute(null=True)


class ChainHeadRecord(BaseModel):
    """The last link of one chain of posted entries: its seq and hash (docs/statements.md). Moved
    only by the chainer, in the transaction that chains the entries."""

    table = "chain_heads"

    class Meta(BaseModel.Meta):
        abstract = False
        table_name = "chain_heads"

    chain = UnicodeAttribute(hash_key=True)  # a wallet id, or a credit shard's id
    wallet_id = UnicodeAttribute()
    seq = NumberAttribute()
    hash = UnicodeAttribute()
    updated_at = UnicodeAttribute()


class CheckpointRecord(BaseModel):
    """A signed checkpoint (part "checkpoint") and the chain heads it committed to (part
    "leaf#<chain>"), so a statement's Merkle path can be given for any checkpoint; the item
    ("latest", "checkpoint") names the newest."""

    table = "checkpoints"

    class Meta(BaseModel.Meta):
        abstract = False
        table_name = "checkpoints"

    checkpoint_id = UnicodeAttribute(hash_key=True)  # cp_<13-digit ms>_<8 hex> (time-ordered, unique) | "latest"
    part = UnicodeAttribute(range_key=True)
    at = UnicodeAttribute(null=True)
    root = UnicodeAttribute(null=True)
    jws = UnicodeAttribute(null=True)
    chains = NumberAttribute(null=True)
    latest_id = UnicodeAttribute(null=True)
    chain = UnicodeAttribute(null=True)
    seq = NumberAttribute(null=True)
    hash = UnicodeAttribute(null=True)
    path = UnicodeAttribute(null=True)  # JSON: the leaf's Merkle path, computed once with the root


ALL_MODELS: tuple[type[BaseModel], ...] = (
    StripeEventRecord, UserRecord, AccountStatusRecord, IdentityRecord, WalletRecord, SessionRecord, CounterRecord,
    TransferRecord, EntryRecord, IdempotencyRecord, DailyTotalRecord, PaymentMethodRecord, TopUpRecord,
    WithdrawalRecord, CodeRecord, InvitationRecord, PaymentRequestRecord, NotificationRecord,
    ConnectionRecord, OfflineDeviceRecord, AllowanceRecord, RedemptionRecord, DoubleSpendRecord,
    AuditRecord, FxRatesRecord, FxQuoteRecord, ChainHeadRecord, CheckpointRecord)
