"""Capacity and cost model: what a transfer costs on AWS and how fast it can go (issue 31).

Every DynamoDB call of a few real requests through the Lambda handler (and of a top-up's webhook
work) is made with ReturnConsumedCapacity=INDEXES on DynamoDB Local, and the items it wrote are
read back. From their sizes the model computes the capacity AWS would charge (DynamoDB's
published rules) and compares it with what DynamoDB Local reports; from those units, AWS's
per-partition limits and prices give the ceilings and the cost of a million transfers. The
figures, their sources and what they mean: docs/capacity.md.

`python -m bench.capacity` prints the per-operation, per-table table, then the one line of
figures the other benchmarks print (bench/__init__.py).
"""
from __future__ import annotations

import json
import math
import statistics
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from bench import report

# -- AWS's published limits and prices (us-east-1); each one's source is in docs/capacity.md --
KB = 1024
READ_BLOCK = 4 * KB  # one read unit reads up to 4 KB (strongly consistent)
PARTITION_WCU = 1_000  # write units a second one partition takes, whatever the capacity mode
PARTITION_RCU = 3_000
TABLE_QUOTA_WRU = 40_000  # default on-demand maximum per table (a quota AWS raises on request)
PRICE_WRU = 0.625 / 1e6  # on-demand, $ per write request unit (after the Nov 2024 reduction)
PRICE_RRU = 0.125 / 1e6  # on-demand, $ per read request unit
LAMBDA_GB_SECOND = 0.0000166667  # x86
LAMBDA_REQUEST = 0.20 / 1e6
API_GATEWAY_REST_REQUEST = 3.50 / 1e6  # REST API, first 333 million a month
LAMBDA_MEMORY_MB = 1024  # .chalice/config.json, stage prod

N_LATENCY = 30  # transfers timed for the Lambda duration


# -- the model: pure arithmetic, tested in tests/unit/test_capacity_model.py ------------------
def _number_size(text: str) -> int:
    """DynamoDB stores a number as up to 38 significant digits, two to a byte, plus one byte;
    leading and trailing zeros are trimmed."""
    digits = text.lstrip("-+").replace(".", "").split("e")[0].split("E")[0].strip("0")
    return math.ceil(max(len(digits), 1) / 2) + 1


def value_size(value: Mapping[str, Any]) -> int:
    """The size of one attribute value in DynamoDB's wire format ({"S": ...}, {"N": ...}, ...)."""
    (kind, v), = value.items()
    if kind == "S":
        return len(str(v).encode())
    if kind == "N":
        return _number_size(str(v))
    if kind == "B":
        return len(v) if isinstance(v, bytes | bytearray) else len(str(v).encode())
    if kind in ("BOOL", "NULL"):
        return 1
    if kind in ("SS", "NS", "BS"):
        inner = "S" if kind == "SS" else "N" if kind == "NS" else "B"
        return sum(value_size({inner: x}) for x in v)
    if kind == "L":
        return 3 + sum(1 + value_size(x) for x in v)  # 3 bytes a list, 1 an element
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + value_size(x) for k, x in v.items())
    raise ValueError(f"unknown attribute type {kind}")


def item_size(item: Mapping[str, Mapping[str, Any]]) -> int:
    """An item's size as DynamoDB counts it: attribute names plus values, keys included."""
    return sum(len(name.encode()) + value_size(v) for name, v in item.items())


def write_units(size: int, *, transactional: bool = False) -> int:
    """Write units for writing an item of `size` bytes: 1 a KB started, 2 in a transaction
    (DynamoDB prepares and commits). A write of nothing (a missing item) still costs 1 KB."""
    return max(1, math.ceil(size / KB)) * (2 if transactional else 1)


def read_units(size: int, *, transactional: bool = False, consistent: bool = True) -> float:
    """Read units for reading `size` bytes: 1 per 4 KB started (strongly consistent), half that
    eventually consistent, twice that in a transaction. Reading nothing still costs one block."""
    blocks = max(1, math.ceil(size / READ_BLOCK))
    return blocks * (2.0 if transactional else 1.0 if consistent else 0.5)


def transfers_per_second(units_per_transfer: float, partition_units: int = PARTITION_WCU) -> float:
    """How many transfers a second one partition takes when each puts `units_per_transfer` on it."""
    return partition_units / units_per_transfer if units_per_transfer else math.inf


def merchant_transfers_per_second(shards: int, wallet_item_wcu: float, entries_wcu: float) -> float:
    """Payments a second into ONE merchant wallet with `shards` credit shards (docs/hot-wallets.md):
    the credit lands on one of `shards` items, each its own partition key, but the credit's entry is
    written under the wallet's id (statements name the wallet), so the entries partition of that
    wallet takes every payment however many shards there are."""
    on_wallet = transfers_per_second(wallet_item_wcu) * max(shards, 1)
    return min(on_wallet, transfers_per_second(entries_wcu))


def system_ceiling(units_by_table: Mapping[str, float], quota: int = TABLE_QUOTA_WRU) -> tuple[str, float]:
    """(the binding table, transfers a second) when every table may take `quota` units a second."""
    table = max(units_by_table, key=lambda t: units_by_table[t])
    return table, quota / units_by_table[table]


@dataclass(frozen=True)
class Cost:
    """Dollars for one million requests of an operation, by service."""

    dynamodb_write: float
    dynamodb_read: float
    lambda_compute: float
    lambda_requests: float
    api_gateway: float

    @property
    def total(self) -> float:
        return self.dynamodb_write + self.dynamodb_read + self.lambda_compute + self.lambda_requests + self.api_gateway


def cost_per_million(wru: float, rru: float, lambda_ms: float, *, memory_mb: int = LAMBDA_MEMORY_MB,
                     lambda_invocations: float = 1.0, api_requests: float = 1.0) -> Cost:
    """On-demand DynamoDB, Lambda (billed per ms) and REST API Gateway, for 1e6 operations each
    consuming `wru`/`rru` request units and `lambda_ms` of a `memory_mb` function."""
    million = 1e6
    gb_seconds = (memory_mb / 1024) * (lambda_ms / 1000)
    return Cost(dynamodb_write=million * wru * PRICE_WRU, dynamodb_read=million * rru * PRICE_RRU,
                lambda_compute=million * lambda_invocations * gb_seconds * LAMBDA_GB_SECOND,
                lambda_requests=million * lambda_invocations * LAMBDA_REQUEST,
                api_gateway=million * api_requests * API_GATEWAY_REST_REQUEST)


# -- measuring: every DynamoDB call of a block, DynamoDB Local's figures beside the model's -----
_READS = {"GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems"}
_WRITES = {"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems"}


@dataclass
class Units:
    """One table's share of an operation: written items, and read/write units as the model
    computes them and as DynamoDB Local reported them (the table and its indexes apart)."""

    items: int = 0
    largest: int = 0  # bytes, the largest item written
    heaviest: str = ""  # that item's largest attributes, "name=bytes"
    model_read: float = 0.0
    model_write: float = 0.0
    model_index_write: float = 0.0
    local_read: float = 0.0
    local_write: float = 0.0
    local_index: float = 0.0


@dataclass
class Meter:
    prefix: str
    tables: dict[str, Units] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    notes: set[str] = field(default_factory=set)

    def of(self, table: str) -> Units:
        return self.tables.setdefault(table.removeprefix(self.prefix), Units())

    def total(self, attr: str) -> float:
        return sum(getattr(u, attr) for u in self.tables.values())


class _Schema:
    """Key and index schema of each table, read once (DescribeTable), to find an item's key and
    which indexes a write lands in."""

    def __init__(self, call: Callable[[str, dict[str, Any]], Any]) -> None:
        self._call = call
        self._cache: dict[str, dict[str, Any]] = {}

    def _table(self, name: str) -> dict[str, Any]:
        if name not in self._cache:
            self._cache[name] = self._call("DescribeTable", {"TableName": name})["Table"]
        return self._cache[name]

    def key(self, name: str, item: Mapping[str, Any]) -> dict[str, Any]:
        return {k["AttributeName"]: item[k["AttributeName"]] for k in self._table(name)["KeySchema"]}

    def index_units(self, name: str, item: Mapping[str, Any] | None) -> float:
        """Write units the indexes take for an item written (a standard write per index the item
        is in, sized by what the index projects). Removing an item from a sparse index is not
        counted: none of the measured operations does."""
        if not item:
            return 0.0
        t = self._table(name)
        keys = {k["AttributeName"] for k in t["KeySchema"]}
        units = 0.0
        for index in t.get("GlobalSecondaryIndexes", []) + t.get("LocalSecondaryIndexes", []):
            index_keys = {k["AttributeName"] for k in index["KeySchema"]}
            if not index_keys <= item.keys():
                continue  # sparse: the item is not in this index
            projection = index["Projection"]
            if projection["ProjectionType"] == "ALL":
                projected: Mapping[str, Any] = item
            else:
                kept = keys | index_keys | set(projection.get("NonKeyAttributes", []))
                projected = {k: v for k, v in item.items() if k in kept}
            units += write_units(item_size(projected))
        return units


@contextmanager
def metered(prefix: str) -> Iterator[Meter]:
    """Measure every DynamoDB call made in the block, from any client.

    Boto3 clients are made per adapter and PynamoDB makes its own, so one wrapper of botocore's
    `BaseClient._make_api_call` (which both go through) sees them all; it asks each call for
    ReturnConsumedCapacity=INDEXES and reads every written item before and after (outside the
    meter), since DynamoDB charges an update for the larger of the two."""
    from botocore.client import BaseClient

    original = BaseClient._make_api_call
    meter = Meter(prefix)
    schema: _Schema | None = None

    def call(self: Any, operation: str, params: dict[str, Any]) -> Any:
        nonlocal schema
        if self.meta.service_model.service_name != "dynamodb" or operation not in _READS | _WRITES:
            return original(self, operation, params)

        def raw(op: str, p: dict[str, Any]) -> Any:
            return original(self, op, p)

        schema = schema or _Schema(raw)
        written = _written_keys(operation, params, schema)
        before = {i: _get(raw, t, k) for i, (t, k, _) in enumerate(written)}
        out = original(self, operation, {**params, "ReturnConsumedCapacity": "INDEXES"})
        meter.calls.append(operation)
        _add_local(meter, operation, out.get("ConsumedCapacity"))
        if operation in _READS:
            _add_read_model(meter, operation, params, out)
        for i, (table, key, action) in enumerate(written):
            after = _get(raw, table, key)
            size = max(item_size(before[i] or {}), item_size(after or {}))
            units = meter.of(table)
            units.model_write += write_units(size, transactional=operation == "TransactWriteItems")
            if action != "ConditionCheck":
                units.items += 1
                if size > units.largest:
                    units.largest, units.heaviest = size, _heaviest(after or before[i] or {})
                units.model_index_write += schema.index_units(table, after)
        return out

    BaseClient._make_api_call = call  # type: ignore[method-assign]
    try:
        yield meter
    finally:
        BaseClient._make_api_call = original  # type: ignore[method-assign]


def _written_keys(operation: str, params: dict[str, Any], schema: _Schema) -> list[tuple[str, dict[str, Any], str]]:
    """(table, key, action) of every item a write call names; a ConditionCheck is billed as a write."""
    if operation == "TransactWriteItems":
        out = []
        for entry in params["TransactItems"]:
            (action, body), = entry.items()
            key = body["Key"] if "Key" in body else schema.key(body["TableName"], body["Item"])
            out.append((body["TableName"], key, action))
        return out
    if operation == "PutItem":
        return [(params["TableName"], schema.key(params["TableName"], params["Item"]), "Put")]
    if operation in ("UpdateItem", "DeleteItem"):
        return [(params["TableName"], params["Key"], operation.removesuffix("Item"))]
    return []


def _heaviest(item: Mapping[str, Mapping[str, Any]], n: int = 3) -> str:
    sizes = sorted(((len(k.encode()) + value_size(v), k) for k, v in item.items()), reverse=True)[:n]
    return ", ".join(f"{k}={b}" for b, k in sizes)


def _get(raw: Callable[[str, dict[str, Any]], Any], table: str, key: dict[str, Any]) -> dict[str, Any] | None:
    item = raw("GetItem", {"TableName": table, "Key": key, "ConsistentRead": True}).get("Item")
    return dict(item) if item else None


def _add_local(meter: Meter, operation: str, consumed: Any) -> None:
    """DynamoDB Local's ConsumedCapacity, by table: the table's own units apart from its indexes'."""
    for c in consumed if isinstance(consumed, list) else [consumed] if consumed else []:
        units = meter.of(c["TableName"])
        table = c.get("Table", {}).get("CapacityUnits", c.get("CapacityUnits", 0.0))
        index = sum(i.get("CapacityUnits", 0.0) for kind in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes")
                    for i in c.get(kind, {}).values())
        if operation in _READS:
            units.local_read += table + index
        else:
            units.local_write += table
            units.local_index += index


def _add_read_model(meter: Meter, operation: str, params: dict[str, Any], out: dict[str, Any]) -> None:
    """Read units from the sizes of the items returned. A projection returns less than DynamoDB
    reads and charges for, so those calls are flagged (the model is then a lower bound)."""
    if operation == "GetItem":
        _flag_projection(meter, operation, params)
        meter.of(params["TableName"]).model_read += read_units(
            item_size(out.get("Item") or {}), consistent=bool(params.get("ConsistentRead")))
    elif operation == "BatchGetItem":
        for table, request in params["RequestItems"].items():
            _flag_projection(meter, operation, request)
            found = out.get("Responses", {}).get(table, [])
            missing = len(request["Keys"]) - len(found)
            consistent = bool(request.get("ConsistentRead"))
            meter.of(table).model_read += sum(read_units(item_size(i), consistent=consistent) for i in found)
            meter.of(table).model_read += missing * read_units(0, consistent=consistent)
    elif operation == "TransactGetItems":
        for entry, got in zip(params["TransactItems"], out.get("Responses", []), strict=False):
            meter.of(entry["Get"]["TableName"]).model_read += read_units(
                item_size(got.get("Item") or {}), transactional=True)
    else:  # Query, Scan: the items read, summed, then rounded up to 4 KB
        _flag_projection(meter, operation, params)
        if params.get("FilterExpression"):
            meter.notes.add(f"{operation} with a filter: charged for items read, not returned")
        size = sum(item_size(i) for i in out.get("Items", []))
        meter.of(params["TableName"]).model_read += read_units(size, consistent=bool(params.get("ConsistentRead")))


def _flag_projection(meter: Meter, operation: str, params: Mapping[str, Any]) -> None:
    if params.get("ProjectionExpression") or params.get("AttributesToGet") or params.get("Select") == "COUNT":
        meter.notes.add(f"{operation} with a projection: the model counts only the attributes returned")


# -- the operations measured ------------------------------------------------------------------
PASSWORD = "correct horse battery staple 42"


@dataclass
class Measured:
    name: str
    meter: Meter


def main() -> None:
    from bench.stack import local_stack

    with local_stack():
        measured, handler_ms, stream, probe, payers = _measure()
    _print_table(measured, stream, probe)
    report(_summary(measured, handler_ms, stream, probe, payers))


# A payment from a payer whose user item has grown, measured under this name per step.
GROWN = "POST /transfers (payer {})"


def _measure() -> tuple[list[Measured], float, dict[str, Units], list[float], list[tuple[str, int]]]:
    from chalice.test import Client

    import app as chalice_app
    from chalicelib.container import get_container
    from chalicelib.domain.contact import email_lookup_key, identity_key
    from chalicelib.domain.ids import new_id
    from chalicelib.domain.money import Money

    c = get_container()
    assert c.tables_bound  # the stack's DynamoDB Local, as the handler sees it
    prefix = c.settings.table_prefix
    out: list[Measured] = []

    def measure(name: str, block: Callable[[], Any]) -> Any:
        with metered(prefix) as meter:
            result = block()
        out.append(Measured(name, meter))
        return result

    with Client(chalice_app.app) as client:
        def call(method: str, path: str, body: Any = None, token: str | None = None, key: bool = False) -> Any:
            headers = {"Content-Type": "application/json"}
            if token:
                headers["Authorization"] = f"Bearer {token}"
            if key:
                headers["Idempotency-Key"] = uuid.uuid4().hex
            r = getattr(client.http, method)(path, headers=headers, body=json.dumps(body) if body is not None else None)
            assert r.status_code < 300, (path, r.status_code, r.body)
            return json.loads(r.body) if r.body else None

        def person(measured: bool = False) -> tuple[str, str, str, str]:
            """(user id, access token, default wallet, verified e-mail)."""
            email = f"cap.{uuid.uuid4().hex[:8]}@example.com"
            register = lambda: call("post", "/auth/register", {"email": email, "password": PASSWORD})  # noqa: E731
            user = (measure("POST /auth/register", register) if measured else register())["user"]["user_id"]
            c.users.confirm_email(user, identity_key(email_lookup_key(email), c.blind_index), None)
            login = lambda: call("post", "/auth/login", {"email": email, "password": PASSWORD})  # noqa: E731
            token = (measure("POST /auth/login", login) if measured else login())["access_token"]
            return user, token, c.ledger.wallets(user)[0].wallet_id, email

        _, warm_token, warm_wallet, _ = person()  # warm: imports, keys, connections
        call("get", f"/wallets/{warm_wallet}", token=warm_token)
        user_a, token_a, wa, _ = person(measured=True)
        user_b, _, wb, email_b = person()
        c.ledger.credit_from_system("stripe_clearing", wa, Money(10**8, "USD"), new_id("tp"))

        def pay(to: dict[str, str]) -> Any:
            return call("post", "/transfers", {"from_wallet_id": wa, "to": to, "amount": 1, "currency": "USD"},
                        token=token_a, key=True)

        pay({"wallet_id": wb})  # warm the transfer path
        measure("GET /wallets/{id}", lambda: call("get", f"/wallets/{wa}", token=token_a))
        measure("GET /wallets", lambda: call("get", "/wallets", token=token_a))
        sent = measure("POST /transfers (wallet id)", lambda: pay({"wallet_id": wb}))
        measure("POST /transfers (e-mail)", lambda: pay({"email": email_b}))
        measure("top-up credit (webhook event)", lambda: _topup_event(c, user_a, wa))

        probe = _local_rule(c, prefix)
        stream = _stream_work(c, prefix, sent["transfer_id"] if isinstance(sent, dict) else "", wa, wb, user_b)
        timings = []
        for _ in range(N_LATENCY):
            t = time.perf_counter()
            pay({"wallet_id": wb})
            timings.append(time.perf_counter() - t)
        payers = [("a new account", _user_item_size(c, prefix, user_a))]
        for what, fields in _grown_user(c, prefix, user_a):
            _grow(c, prefix, user_a, fields)
            payers.append((what, _user_item_size(c, prefix, user_a)))
            measure(GROWN.format(what), lambda: pay({"wallet_id": wb}))
    return out, statistics.median(timings) * 1000, stream, probe, payers


def _user_item_size(c: Any, prefix: str, user_id: str) -> int:
    ddb = c.client("dynamodb")
    key = {"user_id": {"S": user_id}}
    return item_size(ddb.get_item(TableName=prefix + "users", Key=key, ConsistentRead=True)["Item"])


def _grown_user(c: Any, prefix: str, user_id: str) -> list[tuple[str, dict[str, Any]]]:
    """What an account adds to its user item, step by step, each encrypted field about the size
    of its e-mail's ciphertext: a verified phone; then the names and 2FA (the TOTP secret and
    10 recovery-code hashes). Payments from each are measured: the item the transaction checks
    must not grow with them."""
    ddb = c.client("dynamodb")
    ct = ddb.get_item(TableName=prefix + "users", Key={"user_id": {"S": user_id}},
                      ConsistentRead=True)["Item"]["email_ct"]
    return [("with a verified phone", {"phone_ct": ct, "phone_verified": {"BOOL": True}}),
            ("with names and 2FA too", {"first_name_ct": ct, "last_name_ct": ct, "totp_secret_ct": ct,
                                        "mfa_enabled": {"BOOL": True},
                                        "recovery_codes": {"SS": [f"{i:064x}" for i in range(10)]}})]


def _grow(c: Any, prefix: str, user_id: str, fields: dict[str, Any]) -> None:
    names = {f"#f{i}": k for i, k in enumerate(fields)}
    c.client("dynamodb").update_item(
        TableName=prefix + "users", Key={"user_id": {"S": user_id}},
        UpdateExpression="SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(fields))),
        ExpressionAttributeNames=names, ExpressionAttributeValues={f":v{i}": v for i, v in enumerate(fields.values())})


def _local_rule(c: Any, prefix: str) -> list[float]:
    """What DynamoDB Local reports for 1, 2 and 3 small puts into ONE table in one transaction.
    AWS's rule charges each item (2, 4, 6 WCU); where Local reports less, the model and Local
    differ by that, not by item sizes. The probe's items live in the run's throwaway stack."""
    ddb = c.client("dynamodb")
    reported = []
    for k in (1, 2, 3):
        items = [{"Put": {"TableName": prefix + "daily_totals",
                          "Item": {"key": {"S": f"capacity-probe#{uuid.uuid4().hex}"}, "total": {"N": "1"}}}}
                 for _ in range(k)]
        out = ddb.transact_write_items(TransactItems=items, ReturnConsumedCapacity="TOTAL")
        reported.append(sum(x.get("CapacityUnits", 0.0) for x in out.get("ConsumedCapacity", [])))
    return reported


def _topup_event(c: Any, user_id: str, wallet_id: str) -> None:
    """What the stripe_events worker does for a top-up's payment_intent.succeeded: the event log,
    the top-up's record, and the credit. The top-up is claimed and charged beforehand, as
    POST /topups would (that request, and Stripe, are not part of the credit)."""
    from chalicelib.domain.funding import TopUp
    from chalicelib.services import stripe_events

    topup_id, intent = f"tu_{uuid.uuid4().hex[:20]}", f"pi_{uuid.uuid4().hex[:20]}"
    record = TopUp(topup_id=topup_id, user_id=user_id, wallet_id=wallet_id, payment_method_id="pmt_bench",
                   amount=5000, currency="USD", request_hash="h", created_at="2026-01-01T00:00:00.000Z")
    repo = c.funding_repo
    assert repo.claim_topup(record)
    repo.record_charge(topup_id, intent, "pending", None, "answer")
    body = json.dumps({"id": f"evt_{uuid.uuid4().hex[:24]}", "object": "event", "type": "payment_intent.succeeded",
                       "created": int(time.time()), "data": {"object": {
                           "id": intent, "object": "payment_intent", "amount": 5000, "amount_received": 5000,
                           "currency": "usd", "status": "succeeded", "metadata": {"topup_id": topup_id}}}})
    applied = stripe_events.apply_event(body, c.stripe_event_log, c.funding)
    assert applied.outcome == "credited", applied


def _stream_work(c: Any, prefix: str, transfer_id: str, wa: str, wb: str, recipient: str) -> dict[str, Units]:
    """The writes a transfer causes off its path, modelled from the items they left: the chainer
    (each entry gets its chain link, each chain head moves, one transaction per chain at a batch
    of one) and the recipient's notification. Both run in the stack's event pump, another
    process, so DynamoDB Local's own figures for them are not seen here."""
    ddb = c.client("dynamodb")
    table = {name: prefix + name for name in ("entries", "chain_heads", "notifications")}
    deadline = time.time() + 15
    entries: list[dict[str, Any]] = []
    notes: list[dict[str, Any]] = []
    while time.time() < deadline:
        entries = [i for w in (wa, wb) for i in ddb.query(
            TableName=table["entries"], KeyConditionExpression="wallet_id = :w",
            ExpressionAttributeValues={":w": {"S": w}}, ConsistentRead=True)["Items"]
            if i["transfer_id"]["S"] == transfer_id]
        notes = [i for i in ddb.query(
            TableName=table["notifications"], KeyConditionExpression="user_id = :u",
            ExpressionAttributeValues={":u": {"S": recipient}}, ConsistentRead=True)["Items"]
            if i.get("type", {}).get("S") == "transfer.received"]
        if len(entries) == 2 and all("chain" in e for e in entries) and notes:
            break
        time.sleep(0.25)
    out: dict[str, Units] = {}
    if len(entries) == 2 and all("chain" in e for e in entries):
        e = out.setdefault("entries", Units())
        for entry in entries:
            size = item_size(entry)
            e.items += 1  # updated: each gets its chain link
            e.model_write += write_units(size, transactional=True)
            e.model_index_write += write_units(size)  # it enters the sparse by-chain index (ALL)
            e.largest = max(e.largest, size)
            head = ddb.get_item(TableName=table["chain_heads"], Key={"chain": entry["chain"]},
                                ConsistentRead=True).get("Item") or {}
            h = out.setdefault("chain_heads", Units())
            h.items += 1
            h.model_write += write_units(item_size(head), transactional=True)
            h.largest = max(h.largest, item_size(head))
    if notes:
        n = out.setdefault("notifications", Units())
        size = item_size(notes[0])
        n.items, n.largest = 1, size
        n.model_write += write_units(size)
        n.model_index_write += 2 * write_units(size)  # two local indexes, both ALL, both hold it unread
    return out


# -- reporting --------------------------------------------------------------------------------
def _ratio(model: float, local: float) -> str:
    return f"{model / local:.2f}" if local else "n/a"


def _print_table(measured: list[Measured], stream: dict[str, Units], probe: list[float]) -> None:
    """The per-operation, per-table figures (to stdout: the log under `python -m bench`)."""
    print("operation | table | items written (largest B) | WCU model / local (ratio) | index WCU model / local "
          "| RCU model / local")
    for m in measured:
        for name, u in sorted(m.meter.tables.items()):
            print(f"{m.name} | {name} | {u.items} ({u.largest}) | {u.model_write:g} / {u.local_write:g} "
                  f"({_ratio(u.model_write, u.local_write)}) | {u.model_index_write:g} / {u.local_index:g} | "
                  f"{u.model_read:g} / {u.local_read:g}" + (f" | largest item: {u.heaviest}" if u.heaviest else ""))
        print(f"{m.name} | TOTAL | {m.meter.total('items')} | {m.meter.total('model_write'):g} / "
              f"{m.meter.total('local_write'):g} ({_ratio(m.meter.total('model_write'), m.meter.total('local_write'))})"
              f" | {m.meter.total('model_index_write'):g} / {m.meter.total('local_index'):g} | "
              f"{m.meter.total('model_read'):g} / {m.meter.total('local_read'):g} | calls {', '.join(m.meter.calls)}")
        for note in sorted(m.meter.notes):
            print(f"{m.name} | note | {note}")
    for name, u in sorted(stream.items()):
        print(f"transfer, off its path (model) | {name} | {u.items} ({u.largest}) | {u.model_write:g} / - | "
              f"{u.model_index_write:g} / - | -")
    print(f"DynamoDB Local, 1/2/3 small puts into one table in one transaction: {'/'.join(f'{x:g}' for x in probe)} "
          f"WCU (AWS's rule: 2/4/6)")


@dataclass(frozen=True)
class Ceilings:
    one_wallet: float
    merchant: dict[int, float]
    binding_table: str
    system: float
    single_table: float
    wru: float  # write request units a transfer consumes, its off-path writes included


def ceilings(transfer: Meter, stream: Mapping[str, Units]) -> Ceilings:
    """The limits a transfer meets, from its measured items."""
    # One payment into a wallet puts units on two partitions of that wallet: its item (or one of
    # its credit shards) and its entries (the credit's entry, then the chainer's update of it:
    # the same partition key, the wallet id; its sort key grows with time, so DynamoDB cannot
    # split that partition for heat).
    wallet_item = write_units(transfer.tables["wallets"].largest, transactional=True)
    entry = write_units(transfer.tables["entries"].largest, transactional=True)
    chained = entry + (stream["entries"].model_write / 2 if "entries" in stream else 0)
    # Table design: each table (and each index) may take TABLE_QUOTA_WRU a second by default.
    per_table: dict[str, float] = {}
    for units in (transfer.tables, stream):
        for name, u in units.items():
            if u.model_write:
                per_table[name] = per_table.get(name, 0.0) + u.model_write
            if u.model_index_write:
                per_table[f"{name} indexes"] = per_table.get(f"{name} indexes", 0.0) + u.model_index_write
    binding, system = system_ceiling(per_table)
    wru = sum(per_table.values())
    return Ceilings(one_wallet=min(transfers_per_second(wallet_item), transfers_per_second(chained)),
                    merchant={n: merchant_transfers_per_second(n, wallet_item, chained) for n in (1, 8, 32)},
                    binding_table=binding, system=system, single_table=TABLE_QUOTA_WRU / wru, wru=wru)


def _summary(measured: list[Measured], handler_ms: float, stream: dict[str, Units], probe: list[float],
             payers: list[tuple[str, int]]) -> str:
    by = {m.name: m.meter for m in measured}
    t = by["POST /transfers (wallet id)"]
    model_w, local_w = t.total("model_write"), t.total("local_write")
    # The per-item check: where a transaction writes one item to a table, Local and the model
    # must agree exactly (Local counts one item per table, the probe shows it).
    single = [(u.model_write, u.local_write) for m in measured for u in m.meter.tables.values()
              if u.local_write and (u.items <= 1)]
    agree = sum(1 for a, b in single if a == b)
    cap = ceilings(t, stream)
    cost = cost_per_million(cap.wru, t.total("model_read"), handler_ms)
    largest = max(t.tables.items(), key=lambda kv: kv[1].largest)
    # The goal is every payer's: each grown payer's payment is measured, the verdict is the largest.
    per_payer = [model_w, *(by[GROWN.format(what)].total("model_write") for what, _ in payers[1:])]
    grown = "; ".join(f"{what} {size:,} B: {w:g}" for (what, size), w in zip(payers[1:], per_payer[1:], strict=True))
    verdict = "met" if max(per_payer) <= 14 else "NOT met"
    return (f"capacity: POST /transfers writes {t.total('items'):g} items, {model_w:g} WCU by the model for "
            f"{payers[0][0]} (user item {payers[0][1]:,} B); measured again from a payer whose user item grew: "
            f"{grown} (goal <= 14 for every payer {verdict}) vs "
            f"{local_w:g} reported by DynamoDB Local, ratio {_ratio(model_w, local_w)} (Local counts one item a table "
            f"in a transaction: {'/'.join(f'{x:g}' for x in probe)} WCU for 1/2/3 items; one-item tables agree "
            f"{agree}/{len(single)}); largest item {largest[0]} {largest[1].largest} B; {cap.wru:g} WRU with its "
            f"indexes, chainer and notification, {t.total('model_read'):g} RCU; one wallet {cap.one_wallet:.0f} "
            f"transfers/s, a merchant with 8 or 32 credit shards {cap.merchant[8]:.0f} or {cap.merchant[32]:.0f}/s; "
            f"system {cap.system:,.0f}/s ({cap.binding_table} binds; one table {cap.single_table:,.0f}/s); "
            f"${cost.total:.2f} per million transfers (DynamoDB ${cost.dynamodb_write + cost.dynamodb_read:.2f}, "
            f"Lambda {LAMBDA_MEMORY_MB} MB x {handler_ms:.0f} ms ${cost.lambda_compute + cost.lambda_requests:.2f}, "
            f"API Gateway ${cost.api_gateway:.2f})")


if __name__ == "__main__":
    main()
