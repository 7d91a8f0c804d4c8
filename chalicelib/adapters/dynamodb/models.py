"""PynamoDB models: the single definition of every table.

Table names and endpoints are not known at import time (they depend on the stage), so each model
declares a short `table` name and `bind()` in `tables.py` fills in the real name and host.
Sensitive attributes end in `_ct`: ciphertext from `adapters.crypto`, never plain values.
"""
from __future__ import annotations

from pynamodb.attributes import (
    BooleanAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model


class BaseModel(Model):
    """Common settings; `table` is the short name, `Meta.table_name` is set by `tables.bind`."""

    table: str = ""
    ttl_attribute: str | None = None

    class Meta:
        abstract = True
        billing_mode = "PAY_PER_REQUEST"


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
    status = UnicodeAttribute()  # received | applied | ignored
    received_at = UnicodeAttribute()
    expires_at = NumberAttribute()


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
    password_hash = UnicodeAttribute(null=True)
    mfa_enabled = BooleanAttribute(default=False)
    totp_secret_ct = UnicodeAttribute(null=True)
    totp_pending_ct = UnicodeAttribute(null=True)
    totp_last_step = NumberAttribute(default=0)
    recovery_codes = UnicodeSetAttribute(null=True)
    stripe_customer_id = UnicodeAttribute(null=True)


class IdentityRecord(BaseModel):
    """Uniqueness and look-up: "email#<hmac>", "phone#<hmac>", "google#<sub>" -> user id."""

    table = "identities"

    class Meta(BaseModel.Meta):
        abstract = False
        table_name = "identities"

    key = UnicodeAttribute(hash_key=True)
    user_id = UnicodeAttribute()
    created_at = UnicodeAttribute()


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
    balance = NumberAttribute(default=0)
    held = NumberAttribute(default=0)
    status = UnicodeAttribute(default="active")
    kind = UnicodeAttribute(default="user")  # user | system
    is_default = BooleanAttribute(default=False)
    created_at = UnicodeAttribute()
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

    session_id = UnicodeAttribute(hash_key=True)
    user_id = UnicodeAttribute()
    current_hash = UnicodeAttribute()
    used_hashes = UnicodeSetAttribute(null=True)
    generation = NumberAttribute(default=0)
    status = UnicodeAttribute(default="active")
    created_at = UnicodeAttribute()
    expires_at = NumberAttribute()
    by_user = SessionsByUser()


class CounterRecord(BaseModel):
    """Attempt counters (login and OTP failures) over a time window."""

    table = "counters"
    ttl_attribute = "expires_at"

    class Meta(BaseModel.Meta):
        abstract = False
        table_name = "counters"

    key = UnicodeAttribute(hash_key=True)
    failures = NumberAttribute(default=0)
    window_ends = NumberAttribute()
    expires_at = NumberAttribute()


ALL_MODELS: tuple[type[BaseModel], ...] = (
    StripeEventRecord, UserRecord, IdentityRecord, WalletRecord, SessionRecord, CounterRecord)
