"""`python -m offline_wallet keygen | sign | verify`: the client library from a shell.

    keygen --out device.json                      a device key (private: keep it; public: register it)
    receive --me USER [--amount N --currency C]   prints a receive code (what the payee's screen shows)
    sign --key device.json --certificate CERT (--payee USER --amount N | --receive-code TEXT [--amount N])
         [--chain chain.json] [--payment-code]    prints a voucher (or, with --payment-code, the payment
                                                  code: certificate and voucher in one QR text); the
                                                  chain file keeps seq/prev/cumulative
    verify (--certificate CERT --voucher V | --payment-code TEXT) --keys offline-keys.json --me USER
           [--seen seen.json]                     prints the verdict (one line per voucher); exit 0
                                                  accepted, 1 refused
The codes' texts are in docs/offline-payments.md ("The codes"); their format is
chalicelib/domain/offline_codes.py, which the server reads too.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from chalicelib.domain.offline_codes import BadCode, decode_payment, decode_receive, encode_payment, encode_receive
from offline_wallet import keys
from offline_wallet.payee import Seen, check
from offline_wallet.payer import CannotPay, Chain, sign_voucher


def _load(path: str | None, default: Any) -> Any:
    return json.loads(Path(path).read_text()) if path and Path(path).exists() else default


def _save(path: str, data: Any, private: bool = False) -> None:
    target = Path(path)
    tmp = target.with_suffix(target.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    if private:
        os.chmod(tmp, 0o600)
    tmp.replace(target)  # whole or not at all: a torn chain file could sign a seq twice


def keygen(args: argparse.Namespace) -> int:
    key = keys.new_device_key()
    _save(args.out, {"private_key": keys.private_to_text(key), "public_key": keys.public_text(key)}, private=True)
    print(json.dumps({"public_key": keys.public_text(key)}))
    return 0


def receive(args: argparse.Namespace) -> int:
    try:
        print(encode_receive(args.me, args.amount, args.currency))
    except BadCode as err:
        return _refuse(str(err))
    return 0


def _refuse(reason: str) -> int:
    print(json.dumps({"error": reason}), file=sys.stderr)
    return 1


def _payee_and_amount(args: argparse.Namespace, chain: Chain) -> tuple[str, int]:
    """Whom to pay and how much: from --payee and --amount, or from the payee's receive code."""
    if args.receive_code is None:
        if args.payee is None or args.amount is None:
            raise CannotPay("give --payee and --amount, or --receive-code")
        return str(args.payee), int(args.amount)
    try:
        asked = decode_receive(args.receive_code)
    except BadCode as err:
        raise CannotPay(str(err)) from None
    if asked.currency is not None and asked.currency != chain.allowance.get("currency"):
        raise CannotPay(f"the payee asks {asked.currency}; this allowance is {chain.allowance.get('currency')}")
    amount = args.amount if args.amount is not None else asked.amount
    if amount is None or (asked.amount is not None and amount != asked.amount):
        raise CannotPay("the amount is the one the receive code asks (or --amount when it asks none)")
    return asked.payee, int(amount)


def sign(args: argparse.Namespace) -> int:
    key = keys.private_from_text(_load(args.key, {})["private_key"])
    chains = _load(args.chain, {})
    chain = Chain(**chains[args.certificate]) if args.certificate in chains else Chain(args.certificate)
    try:
        voucher = sign_voucher(chain, key, *_payee_and_amount(args, chain))
    except CannotPay as err:
        return _refuse(str(err))
    if args.chain:
        chains[args.certificate] = chain.to_dict()
        _save(args.chain, chains, private=True)
    print(encode_payment(args.certificate, [voucher]) if args.payment_code else voucher)
    return 0


def verify(args: argparse.Namespace) -> int:
    if args.payment_code is not None:
        try:
            payment = decode_payment(args.payment_code)
        except BadCode as err:
            print(json.dumps({"accepted": False, "code": "malformed_code", "seq": None, "amount": None,
                              "reason": str(err)}))
            return 1
        certificate, vouchers = payment.certificate, list(payment.vouchers)
    elif args.certificate and args.voucher:
        certificate, vouchers = args.certificate, [args.voucher]
    else:
        return _refuse("give --certificate and --voucher, or --payment-code")
    seen = Seen.from_dict(_load(args.seen, {}))
    trusted = keys.offline_keys(_load(args.keys, {}))
    verdicts = [check(certificate, voucher, trusted, args.me, seen) for voucher in vouchers]
    if args.seen and any(v.accepted for v in verdicts):
        _save(args.seen, seen.to_dict())
    for verdict in verdicts:
        print(json.dumps({"accepted": verdict.accepted, "code": verdict.code, "seq": verdict.seq,
                          "amount": verdict.amount}))
    return 0 if all(v.accepted for v in verdicts) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m offline_wallet", description="Offline payments client.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("keygen", help="make a device key")
    p.add_argument("--out", required=True)
    p.set_defaults(run=keygen)
    p = sub.add_parser("receive", help="print a receive code: your user id (and the amount you ask)")
    p.add_argument("--me", required=True, help="your user id")
    p.add_argument("--amount", type=int, help="minor units (with --currency)")
    p.add_argument("--currency")
    p.set_defaults(run=receive)
    p = sub.add_parser("sign", help="sign a voucher to a payee")
    p.add_argument("--key", required=True)
    p.add_argument("--certificate", required=True)
    p.add_argument("--payee")
    p.add_argument("--amount", type=int)
    p.add_argument("--receive-code", help="the payee's receive code (instead of --payee)")
    p.add_argument("--chain", help="where the chain of each allowance is kept (keep it with the key)")
    p.add_argument("--payment-code", action="store_true", help="print the payment code (the QR text)")
    p.set_defaults(run=sign)
    p = sub.add_parser("verify", help="check a voucher offline, as its payee")
    p.add_argument("--certificate")
    p.add_argument("--voucher")
    p.add_argument("--payment-code", help="the payer's payment code (instead of --certificate and --voucher)")
    p.add_argument("--keys", required=True, help="the server's offline-keys.json, saved while online")
    p.add_argument("--me", required=True, help="your user id")
    p.add_argument("--seen", help="the vouchers you accepted before (keep it until the allowances close)")
    p.set_defaults(run=verify)
    args = parser.parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
