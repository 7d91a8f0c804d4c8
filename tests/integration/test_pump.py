"""The event pump's two sources against the stack's moto (SQS) and DynamoDB Local (streams)."""
from __future__ import annotations

import json
import time
import uuid

from pynamodb.attributes import UnicodeAttribute

from chalicelib.adapters.aws import client
from chalicelib.adapters.dynamodb.models import BaseModel
from chalicelib.adapters.dynamodb.tables import create_tables
from devstack.pump import SqsSource, StreamSource


def test_sqs_source_deletes_successes_and_dead_letters_failures(stack_settings):
    sqs = client("sqs", stack_settings)
    name = f"it-{uuid.uuid4().hex[:8]}"
    dlq = sqs.create_queue(QueueName=name + "-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    url = sqs.create_queue(QueueName=name, Attributes={
        "VisibilityTimeout": "1",
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"})})["QueueUrl"]
    for body in ("ok-1", "fail", "ok-2"):
        sqs.send_message(QueueUrl=url, MessageBody=body)

    calls: list[list[str]] = []

    def handler(event, context):
        bodies = [r["body"] for r in event["Records"]]
        calls.append(bodies)
        assert all(r["eventSource"] == "aws:sqs" and r["eventSourceARN"].endswith(name) for r in event["Records"])
        return {"batchItemFailures": [{"itemIdentifier": r["messageId"]}
                                      for r in event["Records"] if r["body"] == "fail"]}

    source = SqsSource(sqs, url, handler, stack_settings.region)
    deadline = time.time() + 20
    while time.time() < deadline:
        source.poll()
        dead = sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10).get("Messages", [])
        if dead:
            break
        time.sleep(0.3)
    assert [m["Body"] for m in dead] == ["fail"]
    delivered = [b for batch in calls for b in batch]
    assert delivered.count("ok-1") == 1 and delivered.count("ok-2") == 1  # deleted after success
    assert delivered.count("fail") == 2  # maxReceiveCount deliveries, then the DLQ


class StreamProbe(BaseModel):
    table = "it-stream-probe"

    class Meta(BaseModel.Meta):
        abstract = False
        table_name = "it-stream-probe"
        stream_view_type = "NEW_IMAGE"

    pk = UnicodeAttribute(hash_key=True)


def test_stream_source_hands_new_records_to_the_handler(stack_settings):
    create_tables(stack_settings, (StreamProbe,))
    seen: list[dict] = []
    fail_once = [True]

    def handler(event, context):
        if fail_once[0]:
            fail_once[0] = False
            raise RuntimeError("transient")  # the pump must retry the same records
        seen.extend(event["Records"])

    source = StreamSource(client("dynamodb", stack_settings), client("dynamodbstreams", stack_settings),
                          handler, stack_settings.table_prefix + "it-stream-probe")
    source.refresh()
    keys = [uuid.uuid4().hex for _ in range(3)]
    for k in keys:
        StreamProbe(pk=k).save()
    deadline = time.time() + 15
    while time.time() < deadline and len([r for r in seen if r["dynamodb"]["Keys"]["pk"]["S"] in keys]) < 3:
        source.poll()
        time.sleep(0.2)
    mine = [r for r in seen if r["dynamodb"]["Keys"]["pk"]["S"] in keys]
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in mine] == keys
    assert all(r["eventName"] == "INSERT" and ":table/" in r["eventSourceARN"] for r in mine)


def test_an_expired_iterator_is_renewed_after_the_last_record_with_nothing_lost(stack_settings, caplog):
    """A shard iterator lives 15 minutes: the pump takes a new one after the last record it
    handled (never LATEST), without a traceback."""
    create_tables(stack_settings, (StreamProbe,))
    seen: list[str] = []

    def handler(event, context):
        seen.extend(r["dynamodb"]["Keys"]["pk"]["S"] for r in event["Records"])

    source = StreamSource(client("dynamodb", stack_settings), client("dynamodbstreams", stack_settings),
                          handler, stack_settings.table_prefix + "it-stream-probe")
    source.refresh()

    def drain(keys: list[str]) -> None:
        deadline = time.time() + 15
        while time.time() < deadline and not set(keys) <= set(seen):
            source.poll()
            time.sleep(0.2)

    first = [uuid.uuid4().hex for _ in range(2)]
    for k in first:
        StreamProbe(pk=k).save()
    drain(first)
    real = source.streams
    expired = {"left": len(source.iterators)}

    class Expiring:
        """Every shard's next read finds its iterator expired, once."""

        def __getattr__(self, name):
            return getattr(real, name)

        def get_records(self, **kwargs):
            if expired["left"] > 0:
                expired["left"] -= 1
                from botocore.exceptions import ClientError

                raise ClientError({"Error": {"Code": "ExpiredIteratorException", "Message": "expired"}}, "GetRecords")
            return real.get_records(**kwargs)

    source.streams = Expiring()
    second = [uuid.uuid4().hex for _ in range(3)]
    for k in second:
        StreamProbe(pk=k).save()
    drain(second)
    mine = [k for k in seen if k in first + second]
    assert mine == first + second  # each record once, in order, none lost across the renewal
    assert expired["left"] == 0 and "Traceback" not in caplog.text
