"""The OpenAPI document is generated from the same models that validate requests."""

from jackpot.gateway.admin.app import openapi_document

PUBLIC = {("get", "/health"), ("get", "/ready")}


def ops():
    doc = openapi_document()
    for path, methods in doc["paths"].items():
        for method, op in methods.items():
            yield path, method, op


def test_every_operation_is_secured_and_documents_its_problems():
    for path, method, op in ops():
        if (method, path) in PUBLIC:
            assert op["security"] == []
            continue
        assert op["security"] == [{"bearerAuth": []}], path
        for status in ("400", "401", "403", "404", "409", "422"):
            content = op["responses"][status]["content"]
            assert "application/problem+json" in content, (path, status)
        if method != "get":
            assert any(p["name"] == "Idempotency-Key" for p in op["parameters"]), path


def test_paths_parameters_and_bodies_come_from_the_models():
    doc = openapi_document()
    force = doc["paths"]["/v1/jackpots/{jackpot_id}/force-drop"]["post"]
    params = {p["name"]: p for p in force["parameters"]}
    assert params["jackpot_id"]["in"] == "path" and params["jackpot_id"]["schema"]["format"] == "uuid"
    assert params["wait_s"]["in"] == "query"
    body = force["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    schema = doc["components"]["schemas"][body]
    assert set(schema["required"]) >= {"level_id", "reason", "confirmation"}
    assert schema["additionalProperties"] is False
    ids = [op["operationId"] for _, _, op in ops()]
    assert len(ids) == len(set(ids))
