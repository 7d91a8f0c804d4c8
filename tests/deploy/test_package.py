"""`make package` produces one valid template holding every resource the code uses.

Runs the real packaging (Lambda wheels come from PyPI) once (conftest.py), validates the
template with cfn-lint, and checks it against what the code itself declares: the PynamoDB models,
the queue of the SQS handler, the secrets the container reads, the functions of the app.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from chalicelib.adapters.dynamodb.models import ALL_MODELS, EntryRecord
from chalicelib.adapters.secrets import SECRET_NAMES
from deploy.template import (
    FUNCTIONS,
    LOGICAL,
    merge_template,
    policies,
    stage_env,
    stage_settings,
    table_logical_id,
)

ROOT = Path(__file__).resolve().parents[2]


def test_cfn_lint_finds_no_error(package):
    out, _ = package
    lint = subprocess.run([str(Path(sys.executable).parent / "cfn-lint"), str(out / "sam.json")],
                          capture_output=True, text=True, timeout=300)
    assert lint.returncode == 0, lint.stdout[-3000:]


def test_package_is_under_the_direct_upload_limit(package):
    out, _ = package
    assert (out / "deployment.zip").stat().st_size < 30 * 2**20  # Lambda's limit is 50 MB
    import zipfile

    names = zipfile.ZipFile(out / "deployment.zip").namelist()
    assert "app.pyc" in names or any(n.endswith("app.cpython-311.pyc") for n in names)  # precompiled


def test_every_table_of_the_models_is_in_the_template(package):
    _, t = package
    settings = stage_settings("prod")
    tables = {r["Properties"]["TableName"]: r for r in t["Resources"].values() if r["Type"] == "AWS::DynamoDB::Table"}
    for model in ALL_MODELS:
        props = tables[f"{settings.table_prefix}{model.table}"]["Properties"]
        assert props["BillingMode"] == "PAY_PER_REQUEST"
        assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
        assert props["SSESpecification"]["SSEType"] == "KMS" and props["SSESpecification"]["KMSMasterKeyId"]
        assert props.get("TimeToLiveSpecification", {}).get("AttributeName") == model.ttl_attribute
        assert ("StreamSpecification" in props) == bool(getattr(model.Meta, "stream_view_type", None))
        keys = {k["AttributeName"]: k["KeyType"] for k in props["KeySchema"]}
        assert keys == {k.attr_name: "HASH" if k.is_hash_key else "RANGE"
                        for k in model.get_attributes().values() if k.is_hash_key or k.is_range_key}
    assert len(tables) == len(ALL_MODELS)


def test_queue_dlq_and_event_sources(package):
    _, t = package
    r = t["Resources"]
    queue = stage_env("prod")["STRIPE_EVENTS_QUEUE_NAME"]
    assert r["StripeEventsQueue"]["Properties"]["QueueName"] == queue
    assert r["StripeEventsQueue"]["Properties"]["RedrivePolicy"]["maxReceiveCount"] == 5
    source = r["StripeEvents"]["Properties"]["Events"]["StripeEventsSqsEventSource"]["Properties"]
    assert source["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert source["Queue"] == {"Fn::GetAtt": ["StripeEventsQueue", "Arn"]}
    from chalicelib.domain.notification import NOTIFYING_TABLES

    mappings = [v["Properties"] for v in r.values() if v["Type"] == "AWS::Lambda::EventSourceMapping"
                and v["Properties"]["FunctionName"] != {"Ref": "ChainEntries"}]
    assert all(m["FunctionName"] == {"Ref": "Notifications"} for m in mappings)
    # The chainer reads the entries stream from its start and never skips a record (docs/statements.md).
    chainer = r["ChainEntriesStreamMapping"]["Properties"]
    assert chainer["EventSourceArn"] == {"Fn::GetAtt": [table_logical_id(EntryRecord), "StreamArn"]}
    assert chainer["MaximumRetryAttempts"] == -1 and chainer["StartingPosition"] == "TRIM_HORIZON"
    streamed = {m["EventSourceArn"]["Fn::GetAtt"][0] for m in mappings}
    assert streamed == {table_logical_id(m) for m in ALL_MODELS if m.table in NOTIFYING_TABLES}
    assert all(r[t]["Properties"]["StreamSpecification"] for t in streamed)
    # The WebSocket API: its three routes, and where the notifications function pushes.
    routes = {v["Properties"]["RouteKey"] for v in r.values() if v["Type"] == "AWS::ApiGatewayV2::Route"}
    assert routes == {"$connect", "$disconnect", "$default"}
    push = r["Notifications"]["Properties"]["Environment"]["Variables"]["WS_MANAGEMENT_ENDPOINT"]
    assert "${WebsocketAPI}" in push["Fn::Sub"] and push["Fn::Sub"].endswith("/" + r["WebsocketAPIStage"][
        "Properties"]["StageName"])
    assert r["Reconcile"]["Properties"]["Events"]["ReconcileEvent"]["Type"] == "Schedule"
    for alarm in ("StripeEventsDLQAlarm", "Api5xxAlarm", "ReconciliationDriftAlarm"):
        assert r[alarm]["Type"] == "AWS::CloudWatch::Alarm"
    assert r["RestAPI"]["Properties"]["MethodSettings"][0]["ThrottlingRateLimit"] > 0


def test_every_function_has_its_own_least_privilege_policy_and_its_secrets(package):
    _, t = package
    import app

    config = json.loads((ROOT / ".chalice" / "config.json").read_text())["stages"]["prod"]
    assert config["autogen_policy"] is False
    handlers = ({"api_handler"} | {s.name for s in app.app.event_sources}
                | {f.name for f in app.app.pure_lambda_functions}
                | {f"websocket_{kind}" for kind in ("connect", "message", "disconnect")})
    assert handlers == set(FUNCTIONS)
    expected = policies("prod")
    roles = {name: res for name, res in t["Resources"].items() if res["Type"] == "AWS::IAM::Role"}
    for fn in FUNCTIONS:
        logical = LOGICAL[fn]
        props = t["Resources"][logical]["Properties"]
        role = roles[props["Role"]["Fn::GetAtt"][0]]
        doc = role["Properties"]["Policies"][0]["PolicyDocument"]
        assert doc == expected[fn]
        for statement in doc["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            assert not [a for a in actions if a.endswith(":*") or a == "*"], (fn, actions)
        env = props["Environment"]["Variables"]
        for name in SECRET_NAMES:
            assert env[f"{name}_PARAM"].startswith("/ewallet/prod/")
        assert env["STRIPE_EVENTS_QUEUE_URL"] == {"Ref": "StripeEventsQueue"}


def test_the_merge_template_in_the_repo_is_what_the_code_generates():
    kept = json.loads((ROOT / "deploy" / "merge-template-prod.json").read_text())
    assert kept == json.loads(json.dumps(merge_template("prod")))


def test_the_package_keeps_the_model_of_every_aws_service_the_code_calls(package, tmp_path):
    import re
    import zipfile

    from deploy.package import AWS_SERVICES

    out, _ = package
    code = "\n".join(p.read_text() for p in [ROOT / "app.py", *(ROOT / "chalicelib").rglob("*.py")])
    called = set(re.findall(r"client\(\s*\"([a-z0-9-]+)\"", code))
    assert called and called <= set(AWS_SERVICES), called - set(AWS_SERVICES)
    zipfile.ZipFile(out / "deployment.zip").extractall(tmp_path)
    # The unpacked package alone (-I -S: no site-packages) builds a client for each, offline.
    check = ("import sys; sys.path.insert(0, sys.argv[1]); import boto3, botocore.session\n"
             "services = botocore.session.get_session().get_available_services()\n"
             "[boto3.client(s, region_name='us-east-1', aws_access_key_id='x', aws_secret_access_key='x')"
             " for s in sys.argv[2:]]\n"
             "print(' '.join(sorted(services)))")
    run = subprocess.run([sys.executable, "-I", "-S", "-c", check, str(tmp_path), *AWS_SERVICES],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert set(run.stdout.split()) == set(AWS_SERVICES)


def test_a_statement_pdf_renders_from_the_pruned_package(package, tmp_path):
    # deploy/package.py leaves out Pillow and parts of fontTools that fpdf2 never loads: the
    # zip's own code must still make a statement's PDF, with nothing from this virtualenv.
    import zipfile

    out, _ = package
    with zipfile.ZipFile(out / "deployment.zip") as z:
        z.extractall(tmp_path)
    script = ("import sys; sys.path[:0] = [sys.argv[1]]\n"
              "from chalicelib.adapters.statement_pdf import render\n"
              "pdf = render({'wallet_id': 'wal_1', 'currency': 'USD', 'period': {'from': 'a', 'to': 'b'},"
              " 'opening_balance': 0, 'closing_balance': 5, 'proof': None, 'items': [{'posted_at': "
              "'2025-01-02T10:00:00.000Z', 'type': 'topup', 'direction': 'credit', 'amount': 5, "
              "'balance_after': 5, 'transfer_id': 'tr_1'}]})\n"
              "assert pdf.startswith(b'%PDF-') and 'PIL' not in sys.modules\n")
    run = subprocess.run([sys.executable, "-I", "-S", "-c", script, str(tmp_path)], capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
