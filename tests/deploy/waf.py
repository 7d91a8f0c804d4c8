"""AWS WAF's evaluation, as documented, of the statements the web ACLs scope down with: enough of
it for the deploy tests to ask which requests a rule counts (test_account_safety.py,
test_edge_firewall.py)."""
from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import unquote

# (path, limit per address, window in seconds) of each rate-based rule.
LIMITS = [("/auth/register", 20, 300), ("/auth/password/forgot", 10, 300), ("/auth/password/reset", 10, 300)]


def of_type(t: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: res for name, res in t["Resources"].items() if res.get("Type") == kind}


def rate_rules(props: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for r in props["Rules"] if "RateBasedStatement" in r["Statement"]]


def rate_rule(props: dict[str, Any], path: str) -> dict[str, Any]:
    """The one rule counting POSTs to `path` as they reach the API's stage (/api/auth/register)."""
    rules = [r for r in rate_rules(props)
             if matches(r["Statement"]["RateBasedStatement"]["ScopeDownStatement"], "POST", f"/api{path}")]
    assert len(rules) == 1, rules
    return rules[0]


def _normalize_path(path: str) -> str:
    """WAF's NORMALIZE_PATH: repeated slashes, `.` and `..` segments removed (a trailing slash kept)."""
    out: list[str] = []
    for segment in re.sub("/+", "/", path).split("/"):
        if segment == "..":
            if len(out) > 1:
                out.pop()
        elif segment != ".":
            out.append(segment)
    return "/".join(out)


TRANSFORM: dict[str, Callable[[str], str]] = {
    "NONE": lambda s: s, "LOWERCASE": str.lower, "URL_DECODE": unquote, "NORMALIZE_PATH": _normalize_path}
POSITION: dict[str, Callable[[str, str], bool]] = {
    "EXACTLY": str.__eq__, "ENDS_WITH": str.endswith, "STARTS_WITH": str.startswith, "CONTAINS": str.__contains__}


def matches(statement: dict[str, Any], method: str, path: str, headers: Mapping[str, str] | None = None,
            parameters: Mapping[str, str] | None = None) -> bool:
    """Whether a request (method, path, headers) matches: And, Or, Not, ByteMatch on the URI path,
    the method or a single header (absent: no match), its text transformations in priority order.
    A search string that is a stack parameter's `Ref` takes its value from `parameters`."""
    if "AndStatement" in statement:
        return all(matches(s, method, path, headers, parameters) for s in statement["AndStatement"]["Statements"])
    if "OrStatement" in statement:
        return any(matches(s, method, path, headers, parameters) for s in statement["OrStatement"]["Statements"])
    if "NotStatement" in statement:
        return not matches(statement["NotStatement"]["Statement"], method, path, headers, parameters)
    match = statement["ByteMatchStatement"]
    ((field, settings),) = match["FieldToMatch"].items()
    if field == "SingleHeader":
        sent = {name.lower(): value for name, value in (headers or {}).items()}
        if settings["Name"].lower() not in sent:
            return False
        value = sent[settings["Name"].lower()]
    else:
        value = {"UriPath": path, "Method": method}[field]
    for step in sorted(match["TextTransformations"], key=lambda t: t["Priority"]):
        value = TRANSFORM[step["Type"]](value)
    search = match["SearchString"]
    if isinstance(search, dict):
        search = (parameters or {})[search["Ref"]]
    return POSITION[match["PositionalConstraint"]](value, search)
