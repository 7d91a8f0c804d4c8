"""How the web wallet is hosted, the same locally and in AWS.

`web/build.mjs` bundles the page into a folder of static files; `publish` then adds what
depends on where it runs: `config.json` (the endpoints the page talks to) and, in index.html,
the Content-Security-Policy naming exactly those endpoints. The policy travels in the page
(a meta tag) because in AWS the API's address is only known after the stack exists, and a
CloudFront header naming it would make the API depend on the distribution and the distribution
on the API. What needs no address (no framing, no plugins, HSTS...) is a response header:
`security_headers` locally, a CloudFront response headers policy in AWS.
"""
from __future__ import annotations

import html
import json
import subprocess
from pathlib import Path
from typing import Any

from chalicelib.domain.money import EXPONENTS

ROOT = Path(__file__).resolve().parent.parent
# Stripe.js must be loaded from Stripe itself (PCI); its API and 3-D Secure frames live beside it.
STRIPE_JS = "https://js.stripe.com/v3/"
STRIPE_ORIGINS = ("https://js.stripe.com", "https://*.js.stripe.com", "https://api.stripe.com",
                  "https://hooks.stripe.com")
# Enforced as a header alongside the page's own policy (a browser applies both).
HEADER_CSP = "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"


def build(out: Path) -> Path:
    """Bundle the web wallet into `out` (esbuild from node_modules; no network)."""
    if not (ROOT / "node_modules" / "esbuild").exists():
        raise RuntimeError("node_modules is missing: run `make setup` (npm ci) first")
    subprocess.run(["node", str(ROOT / "web" / "build.mjs"), str(out)], check=True, cwd=ROOT)
    return out


def config(api_url: str, ws_url: str, stripe_js_url: str, stripe_publishable_key: str,
           currencies: tuple[str, ...]) -> dict[str, Any]:
    """What the page reads at start: endpoints, the publishable key (public by design) and the
    currencies with their decimals, from the table the API itself uses. No secret ever goes in
    this file."""
    return {"apiUrl": api_url.rstrip("/"), "wsUrl": ws_url, "stripeJsUrl": stripe_js_url,
            "stripePublishableKey": stripe_publishable_key, "currencies": list(currencies),
            "exponents": {c: EXPONENTS[c] for c in currencies}}


def origin(url: str) -> str:
    scheme, rest = url.split("://", 1)
    return f"{scheme}://{rest.split('/', 1)[0]}"


def page_csp(api_url: str, ws_url: str, stripe: tuple[str, ...]) -> str:  # no '"': it goes in an attribute
    """Scripts only from the site and Stripe; calls only to the API, the WebSocket API and
    Stripe; forms post nowhere."""
    s = " ".join(stripe)
    return "; ".join([
        "default-src 'self'",
        f"script-src 'self' {s}",
        f"connect-src 'self' {origin(api_url)} {origin(ws_url)} {s}",
        f"frame-src {s}",
        "img-src 'self' data:",
        "style-src 'self'",
        "form-action 'self'",
    ])


def security_headers() -> dict[str, str]:
    """The headers every file of the page is served with (CloudFront sets the same in AWS)."""
    return {"Content-Security-Policy": HEADER_CSP, "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY",
            "Permissions-Policy": "camera=(self), microphone=(), geolocation=()"}


def publish(folder: Path, settings: dict[str, Any], stripe: tuple[str, ...]) -> None:
    """Make a built folder runnable against one stack: its config.json, and index.html with
    the policy for that stack's endpoints placed before any script."""
    (folder / "config.json").write_text(json.dumps(settings, indent=2) + "\n")
    index = folder / "index.html"
    meta = (f'<meta http-equiv="Content-Security-Policy" '
            f'content="{html.escape(page_csp(settings["apiUrl"], settings["wsUrl"], stripe), quote=False)}">')
    source = index.read_text()
    if "http-equiv=\"Content-Security-Policy\"" not in source:
        anchor = '<meta charset="utf-8">'
        if anchor not in source:  # never ship a page without its policy
            raise RuntimeError(f"{index} has no {anchor} to put the Content-Security-Policy after")
        index.write_text(source.replace(anchor, f"{anchor}\n  {meta}", 1))
