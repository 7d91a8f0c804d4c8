from chalice.local import RouteMatcher

from devstack.greedy_routes import GreedyRouteMatcher


def test_greedy_matcher_prefers_concrete_routes_then_longest_greedy_prefix():
    m = GreedyRouteMatcher(["/health", "/wallets/{wallet_id}", "/{proxy+}", "/files/{proxy+}"])
    assert m.match_route("/health").route == "/health"
    r = m.match_route("/wallets/w1")
    assert (r.route, r.captured) == ("/wallets/{wallet_id}", {"wallet_id": "w1"})
    r = m.match_route("/files/a/b.txt?x=1")
    assert (r.route, r.captured, r.query_params) == ("/files/{proxy+}", {"proxy": "a/b.txt"}, {"x": ["1"]})
    assert m.match_route("/a/b/c").captured == {"proxy": "a/b/c"}


def test_greedy_matcher_is_a_route_matcher():
    assert issubclass(GreedyRouteMatcher, RouteMatcher)
