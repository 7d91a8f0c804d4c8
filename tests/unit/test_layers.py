"""The layers' arrows point down only: the domain and the services never reach into adapters,
routes or SDKs (docs/architecture.md). Imports inside functions count too (lazy imports are
still dependencies)."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "chalicelib"
SDKS = ("chalice", "boto3", "botocore", "pynamodb", "stripe", "aws_encryption_sdk")
FORBIDDEN = {
    "domain": (*SDKS, "chalicelib.adapters", "chalicelib.api", "chalicelib.services", "chalicelib.container"),
    "services": (*SDKS, "chalicelib.adapters", "chalicelib.api", "chalicelib.container"),
}


def imports(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_no_arrow_points_up_or_sideways(layer):
    bad = [f"{path.relative_to(ROOT.parent)}:{line} imports {name}"
           for path in sorted((ROOT / layer).rglob("*.py"))
           for line, name in imports(path)
           if any(name == f or name.startswith(f + ".") for f in FORBIDDEN[layer])]
    assert bad == []


def test_the_walker_sees_lazy_imports(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from chalicelib.adapters.x import y\n    import stripe\n")
    assert imports(module) == [(2, "chalicelib.adapters.x"), (3, "stripe")]


def test_no_raw_dynamodb_item_is_built_in_services_or_domain():
    # What must be written with the money travels as typed values (domain/unit_of_work.py);
    # only the DynamoDB adapter turns them into transaction items.
    raw = [f"{path.relative_to(ROOT.parent)}:{n}"
           for layer in FORBIDDEN for path in sorted((ROOT / layer).rglob("*.py"))
           for n, line in enumerate(path.read_text().splitlines(), 1)
           if any(marker in line for marker in ('"TableName"', '"UpdateExpression"', '"ConditionExpression"'))]
    assert raw == []
