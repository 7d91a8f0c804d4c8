"""The offline-payments client: what a phone app embeds to pay and be paid with no network.

It depends on `cryptography` only (no server code): a device makes its Ed25519 key
(`keys`), signs chained vouchers within its allowance certificate (`payer`), and a payee checks a
voucher offline against the server's published offline keys and its own record of what it has
seen (`payee`). Formats: compact JWS (RFC 7515) with `alg: EdDSA`, as the HTTP contract states.
The QR texts (receive and payment codes) are read and written by one stdlib-only module that the
server reads them with too, `chalicelib/domain/offline_codes.py` (one definition of the format).
`python -m offline_wallet keygen | receive | sign | verify` is a command-line tool over the same
functions.
"""
