"""How the web wallet is hosted, the same locally and in AWS: the static files built by
`web/build.mjs`, a `config.json` beside them naming the endpoints the page talks to, and the
security headers every file is served with (in AWS: a CloudFront response headers policy)."""
from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
STRIPE_JS = "https://js.stripe.com/v3/"


def build(out: Path) -> Path:
    """Bundle the web wallet into `out` (esbuild from node_modules; no network)."""
    esbuild = ROOT / "node_modules" / "esbuild"
    if not esbuild.exists():
        raise RuntimeError("node_modules is missing: run `make setup` (npm ci) first")
    subprocess.run(["node", str(ROOT / "web" / "build.mjs"), str(out)], check=True, cwd=ROOT)
    return out


def config(api_url: str, ws_url: str, stripe_js_url: str, stripe_publishable_key: str,
           currencies: tuple[str, ...]) -> dict[str, Any]:
    """What the page reads at start (`config.json`): endpoints and the publishable key only.
    The publishable key is public by design; no secret ever goes in this file."""
    return {"apiUrl": api_url.rstrip("/"), "wsUrl": ws_url, "stripeJsUrl": stripe_js_url,
            "stripePublishableKey": stripe_publishable_key, "currencies": list(currencies)}


def origin(url: str) -> str:
    scheme, rest = url.split("://", 1)
    return f"{scheme}://{rest.split('/', 1)[0]}"


def content_security_policy(api_origin: str, ws_origin: str, stripe_origins: tuple[str, ...]) -> str:
    """Scripts only from the site and Stripe; calls only to the API, the WebSocket API and
    Stripe; no plugins, no framing of the wallet by anyone (clickjacking)."""
    stripe = " ".join(stripe_origins)
    return "; ".join([
        "default-src 'self'",
        f"script-src 'self' {stripe}",
        f"connect-src 'self' {api_origin} {ws_origin} {stripe}",
        f"frame-src {stripe}",
        "img-src 'self' data:",
        # Stripe.js and the QR code's SVG set inline styles.
        "style-src 'self' 'unsafe-inline'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ])


def security_headers(csp: str) -> dict[str, str]:
    return {"Content-Security-Policy": csp, "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY",
            "Permissions-Policy": "camera=(), microphone=(), geolocation=()"}
