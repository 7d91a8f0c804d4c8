"""Upload the web wallet to its bucket after the stack is deployed (`make deploy` runs it).

`python -m deploy.publish_web --stack-name ewallet-prod --stage prod`, with the Stripe
publishable key (public by design) in STRIPE_PUBLISHABLE_KEY. Reads the stack's outputs,
builds the page, publishes it for those endpoints (deploy/web.py), uploads every file and asks
CloudFront to drop its cached copies. Nothing here is a secret.
"""
from __future__ import annotations

import argparse
import mimetypes
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import boto3

from chalicelib.api.refresh_cookie import WEB_API_PREFIX
from deploy import web
from deploy.template import stage_settings


def outputs(cloudformation: Any, stack_name: str) -> dict[str, str]:
    stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def upload(s3: Any, bucket: str, folder: Path) -> list[str]:
    """Every file, with its type; browsers revalidate (no-cache), so a new version shows at once
    while unchanged files still come back 304 from CloudFront."""
    keys = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        key = path.relative_to(folder).as_posix()
        kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        s3.put_object(Bucket=bucket, Key=key, Body=path.read_bytes(), ContentType=kind, CacheControl="no-cache")
        keys.append(key)
    return keys


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--stack-name", required=True)
    p.add_argument("--stage", default="prod")
    args = p.parse_args()
    key = os.environ.get("STRIPE_PUBLISHABLE_KEY", "")
    if not key.startswith("pk_"):
        p.error("set STRIPE_PUBLISHABLE_KEY to the account's publishable key (pk_live_... or pk_test_...)")
    out = outputs(boto3.client("cloudformation"), args.stack_name)
    with tempfile.TemporaryDirectory() as tmp:
        folder = web.build(Path(tmp) / "web")
        # The page calls the API under its own origin: the distribution's /api/* behaviour.
        web.publish(folder, web.config(out["WebUrl"] + WEB_API_PREFIX, out["WebsocketConnectEndpointURL"],
                                       web.STRIPE_JS, key, stage_settings(args.stage).currencies), web.STRIPE_ORIGINS)
        keys = upload(boto3.client("s3"), out["WebBucketName"], folder)
    boto3.client("cloudfront").create_invalidation(DistributionId=out["WebDistributionId"], InvalidationBatch={
        "Paths": {"Quantity": 1, "Items": ["/*"]}, "CallerReference": f"publish-{time.time_ns()}"})
    print(f"web wallet: {len(keys)} files uploaded; {out['WebUrl']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
