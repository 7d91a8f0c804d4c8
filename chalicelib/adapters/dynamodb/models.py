"""PynamoDB models: the single definition of every table.

Table names and endpoints are not known at import time (they depend on the stage), so each model
declares a short `table` name and `bind()` in `tables.py` fills in the real name and host.
"""
from __future__ import annotations

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
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


ALL_MODELS: tuple[type[BaseModel], ...] = (StripeEventRecord,)
