"""`make deploy` deploys the edge firewall first and hands its ACL to the stack; the origin
secret is made once, when the stack is new, and kept (not rotated) by every later deploy.

There is no AWS here: an `aws` on PATH stands in for the CLI, records each call and answers
describe-stacks as CloudFormation does (the edge ACL's ARN; "does not exist" for a stack not yet
made). `make -o package` skips the package build, which test_package covers.
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

FAKE_AWS = r"""#!/bin/sh
echo "aws $*" >> "$CALLS"
case "$*" in
  *"describe-stacks --region us-east-1 --stack-name ewallet-prod-edge"*)
    echo "arn:aws:wafv2:us-east-1:123456789012:global/webacl/edge/abc";;
  *"describe-stacks --stack-name ewallet-prod "*)
    if [ -f "$MAIN_EXISTS" ]; then echo "arn:aws:cloudformation:eu-west-1:123456789012:stack/ewallet-prod/1"
    else echo "An error occurred (ValidationError): Stack with id ewallet-prod does not exist" >&2; exit 254; fi;;
  *"describe-stacks"*) echo "An error occurred (ExpiredToken)" >&2; exit 254;;
  *"cloudformation deploy"*"--stack-name ewallet-prod "*) touch "$MAIN_EXISTS";;
esac
"""


def _deploy(tmp: Path, aws_script: str = FAKE_AWS) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    bin_dir = tmp / "bin"
    bin_dir.mkdir(exist_ok=True)
    aws = bin_dir / "aws"
    aws.write_text(aws_script)
    aws.chmod(0o755)
    py = bin_dir / "py"
    py.write_text('#!/bin/sh\necho "py $*" >> "$CALLS"\n')
    py.chmod(0o755)
    calls = tmp / "calls"
    calls.write_text("")
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "CALLS": str(calls),
           "MAIN_EXISTS": str(tmp / "main-exists")}
    done = subprocess.run(["make", "--no-print-directory", "-o", "package", "deploy", "DEPLOY_BUCKET=artifacts",
                           f"PY={py}"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    return done, calls.read_text().splitlines()


def _main_deploy(calls: list[str]) -> str:
    found = [c for c in calls if c.startswith("aws cloudformation deploy") and "--stack-name ewallet-prod " in c]
    assert len(found) == 1, calls
    return found[0]


def test_the_first_deploy_makes_the_edge_stack_then_the_stack_with_a_new_secret(tmp_path):
    done, calls = _deploy(tmp_path)
    assert done.returncode == 0, done.stderr
    edge = [i for i, c in enumerate(calls) if "--stack-name ewallet-prod-edge" in c and "cloudformation deploy" in c]
    main = calls.index(_main_deploy(calls))
    assert edge and edge[0] < main and "--region us-east-1" in calls[edge[0]]
    line = _main_deploy(calls)
    assert 'EdgeWebAclArn=arn:aws:wafv2:us-east-1:123456789012:global/webacl/edge/abc' in line
    secret = line.split("ApiOriginSecret=")[1].split()[0]
    assert len(secret) == 64 and int(secret, 16) >= 0
    assert secret not in done.stdout + done.stderr  # a NoEcho value is never printed
    assert calls[-1] == "py -m deploy.publish_web --stack-name ewallet-prod --stage prod"


def test_a_later_deploy_keeps_the_secret(tmp_path):
    (tmp_path / "main-exists").touch()
    done, calls = _deploy(tmp_path)
    assert done.returncode == 0, done.stderr
    line = _main_deploy(calls)
    assert "EdgeWebAclArn=arn:aws:wafv2" in line and "ApiOriginSecret" not in line


def test_an_unreadable_stack_stops_the_deploy_rather_than_rotating_the_secret(tmp_path):
    # Expired credentials are not "the stack is new": making a secret then would rotate it.
    expired = FAKE_AWS.replace('*"describe-stacks --stack-name ewallet-prod "*)',
                               '*"describe-stacks --stack-name none"*)')
    done, calls = _deploy(tmp_path, expired)
    assert done.returncode != 0
    assert not any(c.startswith("aws cloudformation deploy") and "--stack-name ewallet-prod " in c for c in calls)
    assert "ExpiredToken" in done.stdout + done.stderr
