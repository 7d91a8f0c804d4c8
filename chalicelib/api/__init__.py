"""HTTP layer: blueprints that parse a request, call one service and serialize the answer."""
