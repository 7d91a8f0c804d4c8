"""`python -m devstack` (what `make dev` runs): bring the local stack up, print where it is, and
keep it running until Ctrl-C or SIGTERM, then stop every child."""
from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path

from devstack.stack import ROOT, Ports, Stack, StackError


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--state-dir", default=os.environ.get("STACK_DIR", str(ROOT / ".local")))
    p.add_argument("--api-port", type=int, default=int(os.environ.get("API_PORT", 8000)))
    p.add_argument("--dynamodb-port", type=int, default=int(os.environ.get("DYNAMODB_PORT", 8001)))
    p.add_argument("--moto-port", type=int, default=int(os.environ.get("MOTO_PORT", 5001)))
    p.add_argument("--stripe-port", type=int, default=int(os.environ.get("STRIPE_PORT", 8420)))
    p.add_argument("--ws-port", type=int, default=int(os.environ.get("WS_PORT", 8002)))
    p.add_argument("--ws-management-port", type=int, default=int(os.environ.get("WS_MANAGEMENT_PORT", 8003)))
    p.add_argument("--web-port", type=int, default=int(os.environ.get("WEB_PORT", 8004)))
    p.add_argument("--admin-port", type=int, default=int(os.environ.get("ADMIN_PORT", 8005)))
    p.add_argument("--api-workers", type=int, default=int(os.environ.get("API_WORKERS", 3)))
    args = p.parse_args()

    started = time.monotonic()
    state = Path(args.state_dir)
    state.mkdir(parents=True, exist_ok=True)
    (state / "stack.env").unlink(missing_ok=True)
    stack = Stack(state, Ports(args.api_port, args.dynamodb_port, args.moto_port, args.stripe_port, args.ws_port,
                                     args.ws_management_port, args.web_port, args.admin_port),
                  api_workers=args.api_workers)

    def stop(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        env = stack.start()
        took = time.monotonic() - started
        print(f"Local stack up in {took:.1f}s", flush=True)
        print(f"  Web wallet      {env['WEB_URL']}   (open it in a browser)")
        print(f"  API             {env['API_URL']}   (try {env['API_URL']}/health)")
        print(f"  WebSocket       {env['WS_URL']}?token=<access token>   (live notifications)")
        print(f"  Admin API       {env['ADMIN_URL']}   (python -m ops, signed with {state / 'operator.env'})")
        print(f"  DynamoDB Local  {env['DYNAMODB_ENDPOINT']}")
        print(f"  moto (AWS)      {env['AWS_ENDPOINT']}")
        print(f"  localstripe     {env['STRIPE_API_BASE']}")
        print(f"  settings        {state / 'stack.env'}   logs: {state / 'logs'}/")
        print("Ctrl-C stops everything.", flush=True)
        while True:
            dead = stack.dead()
            if dead:
                print(f"stopped: {', '.join(dead)} exited; see {state / 'logs'}", file=sys.stderr)
                return 1
            time.sleep(1)
    except StackError as err:
        print(f"make dev: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nstopping the local stack", flush=True)
        return 0
    finally:
        stack.stop()
        (state / "stack.env").unlink(missing_ok=True)


if __name__ == "__main__":
    sys.exit(main())
