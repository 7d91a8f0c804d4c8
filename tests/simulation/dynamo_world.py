"""The simulator's world over DynamoDB Local: the same services, wired the same way, over the real
DynamoDB adapters, with DynamoDB's faults injected at the boto3 client (client_faults.py) and the
notifications made from the tables' real streams (dynamo_notifications.py). docs/simulation.md.

The simulator gets tables of its own on the stack's DynamoDB Local, made once per session under a
prefix nobody else uses (the stack's event pump follows only its own prefix) and emptied before
each run: a run's reconciliation and its system accounts' balances are then its own (system
accounts are shared items, `sys:<account>:<currency>:<shard>`, that no id tag could separate)."""
from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.adapters.aws import client
from chalicelib.adapters.dynamodb.chain import DynamoChain, postings
from chalicelib.adapters.dynamodb.connection import RETRYABLE
from chalicelib.adapters.dynamodb.funding import DynamoFunding
from chalicelib.adapters.dynamodb.fx import DynamoFx
from chalicelib.adapters.dynamodb.ledger import DynamoLedger
from chalicelib.adapters.dynamodb.models import ALL_MODELS, AccountStatusRecord, InvitationRecord, WithdrawalRecord
from chalicelib.adapters.dynamodb.notifications import DynamoNotifications
from chalicelib.adapters.dynamodb.offline import DynamoOffline
from chalicelib.adapters.dynamodb.payment_requests import DynamoPaymentRequests
from chalicelib.adapters.dynamodb.stripe_events import DynamoStripeEventLog
from chalicelib.adapters.dynamodb.tables import create_tables, table_name
from chalicelib.adapters.dynamodb.users import DynamoUsers
from chalicelib.adapters.ledger_keys import LedgerKeys
from chalicelib.adapters.tokens import generate_private_pem
from chalicelib.config import Settings
from chalicelib.domain.errors import ServiceUnavailable
from chalicelib.domain.funding import TopUp, Withdrawal
from chalicelib.domain.invitation import Invitation
from chalicelib.services.notifications import Notifications
from chalicelib.services.people import People
from chalicelib.services.statements import Chainer, Statements
from devstack.pump import StreamSource
from tests.fakes import PlainCipher
from tests.fakes_notifications import FakeConnections
from tests.simulation.client_faults import ClientHooks, ClientInjector
from tests.simulation.dynamo_notifications import StreamPump
from tests.simulation.faults import Injector
from tests.simulation.world import Ports, World

# One tag for every run. Runs never meet (each starts on empty tables of a session's own), and
# a tag that changed from run to run would change what a run does: DynamoDB scans in the order of
# its keys' hashes, and the machine sorts hashed ids (withdrawals to resolve), so a failing run
# replayed by Hypothesis (shrinking, @reproduce_failure) under another tag could take another path.
TAG = "ddb0"

# What a 500 from the API (an unhandled storage error) means to a client, as a 503 does: the
# answer is unknown; retry with the same key. Only the transient ones: any other storage error (a
# ValidationException the in-memory fakes would not raise, a condition an adapter does not read)
# is a defect and fails the run.
_TRANSIENT_CODES = frozenset({"ThrottlingException", "ProvisionedThroughputExceededException", "RequestLimitExceeded",
                              "TransactionConflictException", "TransactionInProgressException",
                              "InternalServerError", "ServiceUnavailable"})


def _transient(exc: BaseException) -> bool:
    """A storage error that a retry may get past (throttling, contention, a 500, a timeout)."""
    cause = getattr(exc, "cause", None)  # PynamoDB's errors wrap botocore's
    if isinstance(cause, BaseException) and cause is not exc:
        return _transient(cause)
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        if code == "TransactionCanceledException":
            reasons = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
            return all(r in (*RETRYABLE, "None", None) for r in reasons)
        return code in _TRANSIENT_CODES
    return isinstance(exc, BotoCoreError)  # a timeout, a dropped connection


class Answers:
    """A DynamoDB adapter as the API's callers meet it: a transient storage error that escapes
    it reaches the caller as ServiceUnavailable (a generator's too, while it is read)."""

    def __init__(self, target: Any) -> None:
        self._target = target

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        if name.startswith("_") or not callable(value):
            return value

        def call(*args: Any, **kwargs: Any) -> Any:
            with _answered():
                result = value(*args, **kwargs)
            return _answered_each(result) if isinstance(result, Iterator) else result
        return call


@contextmanager
def _answered() -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        if isinstance(exc, ServiceUnavailable) or not _transient(exc):
            raise
        raise ServiceUnavailable(f"simulated: DynamoDB {type(exc).__name__}") from exc


def _answered_each(items: Iterator[Any]) -> Iterator[Any]:
    with _answered():
        yield from items


class CommittedClaims:
    """The funding records, with a Stripe call's claim counted from its commit even when its
    answer was lost. In memory the claim log sits inside the fault (the fake's call returns,
    then the answer is dropped); here the fault is under it, so the claim is looked up."""

    def __init__(self, repo: DynamoFunding, world: World) -> None:
        self._repo, self._world = repo, world

    def __getattr__(self, name: str) -> Any:
        return getattr(self._repo, name)

    def mark_attempt(self, withdrawal_id: str, user_id: str, call: str, when: float,
                     first: float | None = None) -> bool:
        try:
            return self._repo.mark_attempt(withdrawal_id, user_id, call, when, first)
        except BaseException:
            if first is None and self._claimed_at(withdrawal_id, call) == when:
                self._world.seq += 1
                self._world.claims[(withdrawal_id, call)] = self._world.seq
            raise

    def _claimed_at(self, withdrawal_id: str, call: str) -> float | None:
        w = self._repo.withdrawal(withdrawal_id)
        return None if w is None else (w.transfer_attempted_at if call == "transfer" else w.payout_attempted_at)


class OwnTables:
    """The DynamoDB client the stream pump looks for tables with, listing the simulator's own:
    ListTables answers 100 names a page and the pump reads one, which another session's tables
    on the same DynamoDB Local could fill."""

    def __init__(self, ddb: Any, keys: dict[str, list[str]]) -> None:
        self._ddb, self._keys = ddb, keys

    def list_tables(self) -> dict[str, list[str]]:
        return {"TableNames": sorted(self._keys)}

    def describe_table(self, **kwargs: Any) -> Any:
        return self._ddb.describe_table(**kwargs)


class DynamoLocal:
    """The simulator's tables on the stack's DynamoDB Local, its clients, and the stream pump."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.hooks = ClientHooks()
        self.client = client("dynamodb", settings)  # the ledger's, faulted like PynamoDB's
        self.hooks.attach(self.client.meta.events)
        self._admin = client("dynamodb", settings)  # no faults: making and emptying tables
        self.admin = self._admin  # ...and the chainer's and the checks' reads (their faults: the pump's)
        self._keys: dict[str, list[str]] = {}
        streams, tables = client("dynamodbstreams", settings), OwnTables(self._admin, self._keys)
        self.pump = StreamPump(lambda handler, positions: StreamSource(
            tables, streams, handler, settings.table_prefix, positions=positions), settings.table_prefix)

    @classmethod
    @contextmanager
    def started(cls, stack: Settings) -> Iterator[DynamoLocal]:
        """Tables of the simulator's own for the session; the models bound back afterwards."""
        settings = dataclasses.replace(stack, table_prefix=f"sim-{secrets.token_hex(3)}-")
        metas: list[tuple[Any, Any]] = [(m, m.Meta) for m in ALL_MODELS]
        bound = [(model, meta.table_name, meta.region, meta.host) for model, meta in metas]
        local = cls(settings)
        with local.hooks.on_pynamodb():
            try:
                create_tables(settings)  # binds the models to them, too
                local._learn_keys()
                local.pump.source.refresh()
                yield local
            finally:
                local._drop()
                for model, name, region, host in bound:
                    meta: Any = model.Meta
                    meta.table_name, meta.region, meta.host = name, region, host
                    model._connection = None

    def _learn_keys(self) -> None:
        """Each table's key attributes (what emptying it deletes by)."""
        for model in ALL_MODELS:
            name = table_name(self.settings, model)
            schema = self._admin.describe_table(TableName=name)["Table"]["KeySchema"]
            self._keys[name] = [k["AttributeName"] for k in schema]

    def _drop(self) -> None:
        for table in self._keys:
            self._admin.delete_table(TableName=table)

    def reset(self) -> None:
        """Empty every table, and read the streams past what that left in them."""
        self.hooks.injector, self.pump.listener = None, None
        for table, keys in self._keys.items():
            names = {f"#k{i}": k for i, k in enumerate(keys)}
            pages = self._admin.get_paginator("scan").paginate(
                TableName=table, ProjectionExpression=", ".join(names), ExpressionAttributeNames=names,
                ConsistentRead=True)
            for page in pages:
                self._delete(table, page["Items"])
        self.pump.drain()

    def _delete(self, table: str, keys: list[dict[str, Any]]) -> None:
        for start in range(0, len(keys), 25):  # BatchWriteItem's limit
            request: Any = {table: [{"DeleteRequest": {"Key": k}} for k in keys[start:start + 25]]}
            while request:
                request = self._admin.batch_write_item(RequestItems=request).get("UnprocessedItems")


@dataclass
class DynamoWorld(World):
    """`World` over the real DynamoDB adapters. The machine reads it only through World's read
    methods; those that read the in-memory book are read from the tables here."""

    injector: Injector = field(default_factory=ClientInjector)
    local: DynamoLocal | None = None
    tag: str = TAG
    _statements: Statements | None = None
    _opened: int = 0  # accounts signed up in this run

    def __post_init__(self) -> None:
        local = self.ddb
        local.reset()
        assert isinstance(self.injector, ClientInjector), "DynamoDB faults are injected at the client"
        local.hooks.injector = self.injector
        super().__post_init__()  # wires the services over ports(), registers the people
        local.pump.listener = self._notifications()
        chainer = Chainer(DynamoChain(local.settings, local.admin), now=self.clock)
        local.pump.chainer = lambda batch: chainer.chain(postings(batch))

    @property
    def ddb(self) -> DynamoLocal:
        assert self.local is not None, "DynamoWorld needs the simulator's DynamoDB Local (DynamoLocal.started)"
        return self.local

    def ports(self) -> Ports:
        # The adapter's own back-off between retries only spends time here (nothing runs
        # concurrently); PynamoDB's `transact` keeps its real one (it takes no sleep).
        self.dynamo_ledger = DynamoLedger(self.ddb.settings, self.ddb.client, sleep=lambda seconds: None)
        self.dynamo_funding = DynamoFunding()
        return Ports(ledger=Answers(self.dynamo_ledger), users=Answers(DynamoUsers()),
                     funding=Answers(CommittedClaims(self.dynamo_funding, self)),
                     requests=Answers(DynamoPaymentRequests()), events=Answers(DynamoStripeEventLog()),
                     offline=Answers(DynamoOffline(self.dynamo_ledger)),
                     fx=Answers(DynamoFx(self.ddb.settings, self.dynamo_ledger)))

    def statements(self) -> Statements:
        """The statements service over this run's tables (its checkpoints signed by a key of
        the run's own), for the chain invariant at quiescence."""
        if self._statements is None:
            self._statements = Statements(DynamoChain(self.ddb.settings, self.ddb.admin),
                                          LedgerKeys(generate_private_pem()), own_wallet=self.ledger.wallet,
                                          now=self.clock)
        return self._statements

    def _notifications(self) -> Notifications:
        cipher = PlainCipher()
        return Notifications(inbox=DynamoNotifications(lambda: cipher), connections=FakeConnections(),
                             people=lambda: People(DynamoUsers(), cipher),
                             transfer=self.dynamo_ledger.get_transfer, now=self.clock)

    def opened(self, wallet_id: str, user_id: str) -> None:
        """DynamoDB's sign-up wrote the wallet in the user's transaction. Every other account
        then loses its status item, as one made before that item existed: its first payment
        fails closed and writes it from the user item (adapters.dynamodb.account_status), under
        the run's faults at the client."""
        self._opened += 1
        if self._opened % 2 == 0:
            self.ddb.admin.delete_item(TableName=table_name(self.ddb.settings, AccountStatusRecord),
                                       Key={"user_id": {"S": user_id}})

    # -- reads for the invariants, from the tables (consistent reads) ---------------------------
    def _mine(self, user_id: str | None) -> bool:
        return bool(user_id) and str(user_id).startswith(self.user(""))

    def withdrawals(self) -> dict[str, Withdrawal]:
        found = {}
        for r in WithdrawalRecord.scan(consistent_read=True, attributes_to_get=["withdrawal_id", "user_id"]):
            w = self.dynamo_funding.withdrawal(r.withdrawal_id) if self._mine(r.user_id) else None
            if w is not None:
                found[w.withdrawal_id] = w
        return found

    def invitation_records(self) -> dict[str, Invitation]:
        found = {}
        for r in InvitationRecord.scan(consistent_read=True, attributes_to_get=["transfer_id", "sender_id"]):
            inv = self.dynamo_ledger.get_invitation(r.transfer_id) if self._mine(r.sender_id) else None
            if inv is not None:
                found[inv.transfer_id] = inv
        return found

    def topups(self) -> list[TopUp]:
        return [t for t in self.dynamo_funding.topups_since("") if self._mine(t.user_id)]
