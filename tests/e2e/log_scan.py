"""What must never appear in our logs: personal data, tokens, card data, secrets."""
from __future__ import annotations

import re
from pathlib import Path

PATTERNS = {
    "e-mail": re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+\.[A-Za-z0-9.-]+"),
    "phone": re.compile(r"\+\d{9,15}\b"),
    "jwt": re.compile(r"eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}"),
    "refresh token": re.compile(r"rt\.ses_[0-9a-f]+\."),
    "card number": re.compile(r"\b4[0-9]{15}\b"),
    "client secret": re.compile(r"_secret_[A-Za-z0-9]+"),
    "password": re.compile(r"correct horse battery"),
}
OUR_LOGS = ("api*.log", "pump.log")  # the emulators' own logs stand in for AWS/Stripe, not for us


def our_logs(stack: dict[str, str]) -> list[Path]:
    folder = Path(stack["STACK_DIR"]) / "logs"
    return sorted(p for pattern in OUR_LOGS for p in folder.glob(pattern))


def leaks(stack: dict[str, str]) -> list[str]:
    secrets = [stack[k] for k in ("STRIPE_WEBHOOK_SECRET", "STRIPE_API_KEY", "DATA_KEY", "BLIND_INDEX_KEY")]
    found = []
    for path in our_logs(stack):
        name = path.name
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            for what, pattern in PATTERNS.items():
                if pattern.search(line):
                    found.append(f"{name}:{number}: {what}: {line[:200]}")
            found += [f"{name}:{number}: a secret" for s in secrets if s in line]
    return found
