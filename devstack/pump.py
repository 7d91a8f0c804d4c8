"""The event pump: what AWS's event-source mappings do, for the local stack.

It polls the local SQS queue and hands batches to the `stripe_events` handler exactly as Lambda
would (partial batch failures honoured: failed messages become visible again and, after the
queue's maxReceiveCount, land in the dead-letter queue), and it reads the DynamoDB streams of
the tables that have one and hands their records to the `notifications` handler.
"""
from __future__ import annotations

import logging
import os
import signal
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

log = logging.getLogger("pump")

# Every scheduled function of app.py (a test checks the list is complete).
SCHEDULED = ("reconcile", "resume_withdrawals", "sweep_invitations", "expire_payment_requests",
             "release_allowances", "close_unverified_accounts", "fetch_fx_rates", "checkpoint_ledger")


class LambdaContext:
    def __init__(self, name: str) -> None:
        self.function_name = name
        self.aws_request_id = str(uuid.uuid4())
        self.memory_limit_in_mb = 512
        self._deadline = time.time() + 60

    def get_remaining_time_in_millis(self) -> int:
        return int((self._deadline - time.time()) * 1000)


def sqs_event(messages: list[dict[str, Any]], queue_arn: str, region: str) -> dict[str, Any]:
    return {"Records": [{
        "messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
        "attributes": m.get("Attributes", {}), "messageAttributes": {},
        "md5OfBody": m.get("MD5OfBody", ""), "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn, "awsRegion": region,
    } for m in messages]}


@dataclass
class SqsSource:
    sqs: Any
    queue_url: str
    handler: Any
    region: str
    queue_arn: str = ""

    def __post_init__(self) -> None:
        attrs = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])
        self.queue_arn = attrs["Attributes"]["QueueArn"]

    def poll(self) -> int:
        # No long polling: the local moto server handles one request at a time.
        got = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10,
                                       WaitTimeSeconds=0, AttributeNames=["All"])
        messages = got.get("Messages", [])
        if not messages:
            return 0
        try:
            result = self.handler(sqs_event(messages, self.queue_arn, self.region),
                                  LambdaContext("stripe_events")) or {}
        except Exception:
            log.exception("stripe_events handler failed; the batch will be retried")
            return len(messages)
        failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
        done = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                for i, m in enumerate(messages) if m["MessageId"] not in failed]
        if done:
            self.sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=done)
        return len(messages)


@dataclass
class StreamSource:
    """Follows every shard of the tables' streams, as Lambda's event-source mapping does.

    A shard iterator lives 15 minutes and a used one may not be handed back: the position kept
    is the last sequence number handled, and any new iterator (an expired one, a failed batch
    to retry, a restart of the reading) starts AFTER it, never at LATEST, so no record is lost
    or skipped. Only when the records after it were trimmed away (24 h in AWS) does it start
    over at the oldest record, with one warning.
    """

    ddb: Any
    streams: Any
    handler: Any
    table_prefix: str
    iterators: dict[str, str] = field(default_factory=dict)  # shard id -> iterator ("" = closed)
    arns: dict[str, str] = field(default_factory=dict)  # shard id -> stream arn
    positions: dict[str, str] = field(default_factory=dict)  # shard id -> last sequence number handled
    _last_refresh: float = 0.0

    def refresh(self) -> None:
        self._last_refresh = time.time()
        for name in self.ddb.list_tables().get("TableNames", []):
            if not name.startswith(self.table_prefix):
                continue
            arn = self.ddb.describe_table(TableName=name)["Table"].get("LatestStreamArn")
            if not arn:
                continue
            shards = self.streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
            for shard in shards:
                sid = shard["ShardId"]
                if sid not in self.arns:
                    self.arns[sid] = arn
                    self.iterators[sid] = self._iterator(sid)

    def _iterator(self, sid: str) -> str:
        """A fresh iterator just after the last record handled (the oldest record if none)."""
        after = self.positions.get(sid)
        kwargs: dict[str, Any] = {"StreamArn": self.arns[sid], "ShardId": sid}
        if after:
            kwargs.update(ShardIteratorType="AFTER_SEQUENCE_NUMBER", SequenceNumber=after)
        else:
            kwargs.update(ShardIteratorType="TRIM_HORIZON")
        try:
            return str(self.streams.get_shard_iterator(**kwargs)["ShardIterator"])
        except ClientError as exc:
            if _code(exc) != "TrimmedDataAccessException" or not after:
                raise
            log.warning("stream records after %s in shard %s were trimmed; going on from the oldest", after, sid)
            self.positions.pop(sid, None)
            return self._iterator(sid)

    def poll(self) -> int:
        if time.time() - self._last_refresh > 5:
            self.refresh()
        total = 0
        for sid, iterator in list(self.iterators.items()):
            if iterator:
                total += self._read(sid, iterator)
        return total

    def _read(self, sid: str, iterator: str) -> int:
        try:
            got = self.streams.get_records(ShardIterator=iterator, Limit=100)
        except ClientError as exc:
            if _code(exc) not in ("ExpiredIteratorException", "TrimmedDataAccessException"):
                raise
            self.iterators[sid] = self._iterator(sid)  # from where we were: nothing lost
            return 0
        records = got.get("Records", [])
        if records:
            for r in records:
                r["eventSourceARN"] = self.arns[sid]
            try:
                self.handler({"Records": records}, LambdaContext("notifications"))
            except Exception:
                # Like Lambda, the same records again, from a fresh iterator after the last
                # record handled (a used iterator is not handed back).
                log.exception("notifications handler failed; retrying")
                self.iterators[sid] = self._iterator(sid)
                return 0
            self.positions[sid] = records[-1]["dynamodb"]["SequenceNumber"]
        self.iterators[sid] = got.get("NextShardIterator") or ""  # none: the shard is closed
        return len(records)


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def scheduled_event(name: str, region: str) -> dict[str, Any]:
    """The EventBridge event a schedule rule sends a Lambda."""
    return {"version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event", "source": "aws.events",
            "account": "123456789012", "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "region": region, "resources": [f"arn:aws:events:{region}:123456789012:rule/{name}"], "detail": {}}


@dataclass
class ScheduleSource:
    """The scheduled functions, every `every` seconds (AWS runs them every 15 min or hourly;
    locally they run often so that an expiry or a resumption shows within seconds)."""

    handlers: dict[str, Any]
    region: str
    every: float = 15.0
    _next: float = 0.0

    def poll(self) -> int:
        if time.time() < self._next:
            return 0
        self._next = time.time() + self.every
        for name, handler in self.handlers.items():
            try:
                handler(scheduled_event(name, self.region), LambdaContext(name))
            except Exception:
                log.exception("scheduled function %s failed", name)
        return 0


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="pump: %(message)s")
    import app as chalice_app
    from chalicelib.adapters.aws import client
    from chalicelib.config import get_settings

    settings = get_settings()
    sources: list[Any] = [
        SqsSource(client("sqs", settings), os.environ["STRIPE_EVENTS_QUEUE_URL"],
                  chalice_app.stripe_events, settings.region),
        StreamSource(client("dynamodb", settings), client("dynamodbstreams", settings),
                     chalice_app.notifications, settings.table_prefix),
        # The chainer reads the entries table's stream only (its prefix names that one table).
        StreamSource(client("dynamodb", settings), client("dynamodbstreams", settings),
                     chalice_app.chain_entries, settings.table_prefix + "entries"),
        ScheduleSource({name: getattr(chalice_app, name) for name in SCHEDULED}, settings.region,
                       float(os.environ.get("SCHEDULE_SECONDS", "15"))),
    ]
    running = [True]
    signal.signal(signal.SIGTERM, lambda *_: running.__setitem__(0, False))
    print("event pump running", flush=True)
    while running[0]:
        busy = 0
        for source in sources:
            try:
                busy += source.poll()
            except Exception:
                log.exception("poll failed")
        if not busy:
            time.sleep(0.2)


if __name__ == "__main__":
    main()
