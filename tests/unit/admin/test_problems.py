"""Every error is an RFC 9457 problem with a stable type and the request id."""

import pytest
from pydantic import BaseModel, ValidationError

from jackpot.gateway.admin.problems import Problem, from_validation


class Body(BaseModel):
    amount: int


def test_problem_body_has_the_rfc_members():
    body = Problem(409, "conflict", "already there", command_id="c1").body("/v1/x", "r1")
    assert body == {"type": "https://jackpot.example/problems/conflict", "title": "Conflict", "status": 409,
                    "detail": "already there", "instance": "/v1/x", "request_id": "r1", "command_id": "c1"}


def test_validation_errors_name_each_field():
    with pytest.raises(ValidationError) as exc:
        Body.model_validate({"amount": "x"})
    p = from_validation(exc.value, "body")
    assert p.status == 422 and p.errors[0]["location"] == ["body", "amount"]
