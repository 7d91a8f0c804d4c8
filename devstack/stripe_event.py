"""Sign and post a Stripe event to the local API, as Stripe's own CLI (`stripe trigger`) would.

    .venv/bin/python -m devstack.stripe_event payout.paid '{"id": "po_1", "metadata": {"withdrawal_id": "wd_..."}}'

Reads the API URL and the webhook secret from .local/stack.env (or STACK_ENV).
"""
from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

from devstack.stack import ROOT


def sign(payload: str, secret: str, ts: int | None = None) -> str:
    ts = int(time.time()) if ts is None else ts
    return f"t={ts},v1=" + hmac.new(secret.encode(), f"{ts}.{payload}".encode(), hashlib.sha256).hexdigest()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("type", help="event type, e.g. payout.paid, payment_intent.succeeded, charge.refunded")
    p.add_argument("object", help="the event's data.object as JSON")
    p.add_argument("--id", default=None, help="event id (default: a new evt_...)")
    args = p.parse_args()
    env_file = Path(os.environ.get("STACK_ENV", ROOT / ".local" / "stack.env"))
    env = dict(line.split("=", 1) for line in env_file.read_text().splitlines() if "=" in line and line[0] != "#")
    payload = json.dumps({"id": args.id or f"evt_{uuid.uuid4().hex[:24]}", "object": "event", "type": args.type,
                          "created": int(time.time()), "livemode": False,
                          "data": {"object": json.loads(args.object)}})
    request = urllib.request.Request(env["API_URL"] + "/webhooks/stripe", data=payload.encode(), method="POST",
                                     headers={"Content-Type": "application/json",
                                              "Stripe-Signature": sign(payload, env["STRIPE_WEBHOOK_SECRET"])})
    try:
        with urllib.request.urlopen(request, timeout=10) as r:
            print(r.status, r.read().decode())
            return 0
    except urllib.error.HTTPError as e:
        print(e.code, e.read().decode(), file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
