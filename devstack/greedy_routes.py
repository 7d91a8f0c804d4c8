"""Teach Chalice's local gateway API Gateway's greedy path variables (`/{proxy+}`).

API Gateway routes `/a/b/c` to a `/{proxy+}` resource when no more specific route matches;
`chalice local` and `chalice.test.Client` only match routes with the same number of segments
(aws/chalice#2072), so without this the local stack would answer unknown multi-segment paths with
API Gateway's 403 body instead of the app's 404. Dev and test only: AWS does this itself.
"""
from __future__ import annotations

from chalice import local

_Base = local.RouteMatcher


class GreedyRouteMatcher(_Base):  # type: ignore[misc,valid-type]
    def match_route(self, url: str) -> local.MatchResult:
        try:
            return _Base.match_route(self, url)
        except ValueError:
            pass
        parsed = local.urlparse(url)
        path = parsed.path.rstrip("/") or "/"
        parts = path.split("/")
        # Longest prefix first, as API Gateway prefers the most specific resource.
        greedy = sorted((r for r in self.route_urls if r.endswith("+}")),
                        key=lambda r: -r.count("/"))
        for route_url in greedy:
            route_parts = route_url.split("/")
            prefix, last = route_parts[:-1], route_parts[-1]
            if len(parts) <= len(prefix):
                continue
            captured = {}
            for have, want in zip(parts, prefix, strict=False):
                if want.startswith("{") and want.endswith("}"):
                    captured[want[1:-1]] = have
                elif have != want:
                    break
            else:
                captured[last[1:-2]] = "/".join(parts[len(prefix):])
                return local.MatchResult(route_url, captured,
                                         local.parse_qs(parsed.query, keep_blank_values=True))
        raise ValueError(f"No matching route found for: {url}")


def install() -> None:
    local.RouteMatcher = GreedyRouteMatcher  # type: ignore[misc]
