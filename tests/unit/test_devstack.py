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


def test_the_pump_runs_every_scheduled_function_of_the_app():
    from chalice.app import ScheduledEventConfig

    import app
    from devstack.pump import SCHEDULED, ScheduleSource

    scheduled = {s.name for s in app.app.event_sources if isinstance(s, ScheduledEventConfig)}
    assert set(SCHEDULED) == scheduled
    ran: list[tuple[str, str]] = []
    source = ScheduleSource({name: (lambda event, context, n=name: ran.append((n, event["detail-type"])))
                             for name in SCHEDULED}, "us-east-1", every=60)
    source.poll()
    source.poll()  # within the period: nothing runs again
    assert ran == [(name, "Scheduled Event") for name in SCHEDULED]


def test_the_websocket_server_serves_every_websocket_handler_of_the_app():
    import app
    from devstack.ws_server import ROUTES

    assert set(ROUTES) == set(app.app.websocket_handlers)
    for route, name in ROUTES.items():
        assert app.app.websocket_handlers[route].handler_string == f"app.{name}"
