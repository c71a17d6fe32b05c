"""The engine is pure: no I/O, no wall clock, no non-cryptographic randomness, no numpy."""

import ast
import pathlib

import jackpot.engine

ENGINE = pathlib.Path(jackpot.engine.__file__).parent
ALLOWED = {
    "__future__", "copy", "dataclasses", "heapq", "datetime", "decimal", "enum", "fractions", "hashlib", "hmac", "json",
    "secrets", "typing", "uuid", "zoneinfo", "pydantic",
}


def modules():
    files = sorted(ENGINE.glob("*.py"))
    assert len(files) >= 12
    return files


def test_only_pure_imports():
    for f in modules():
        tree = ast.parse(f.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:  # relative: inside the engine
                    continue
                names = [node.module]
            else:
                continue
            for n in names:
                assert n.split(".")[0] in ALLOWED, f"{f.name} imports {n}"


FORBIDDEN_CALLS = {("uuid", "uuid4"), ("uuid", "uuid1"), ("datetime", "now"), ("datetime", "utcnow"), ("time", "time"),
                   ("time", "monotonic"), ("date", "today")}


def test_no_wall_clock_uuid4_or_float_arithmetic():
    for f in modules():
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                assert (node.value.id, node.attr) not in FORBIDDEN_CALLS, f"{f.name} uses {node.value.id}.{node.attr}"
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                assert node.func.id != "float", f"{f.name} calls float()"
            if isinstance(node, ast.Constant):
                assert not isinstance(node.value, float), f"{f.name} has a float literal {node.value}"
