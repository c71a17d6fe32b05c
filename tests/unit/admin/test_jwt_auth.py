"""JWTs from the identity provider: only properly signed, unexpired tokens for our audience count."""

import datetime as dt

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from jackpot.gateway.admin.jwt_auth import JwtVerifier
from jackpot.gateway.admin.problems import Problem
from jackpot.gateway.admin.rbac import Permission, Role
from jackpot.settings import Settings

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PUBLIC = KEY.public_key().public_bytes(serialization.Encoding.PEM,
                                       serialization.PublicFormat.SubjectPublicKeyInfo).decode()
ISSUER = "https://idp.example/realms/casino"


def verifier(**over) -> JwtVerifier:
    return JwtVerifier(Settings(JACKPOT_ADMIN_JWT_ISSUER=ISSUER, JACKPOT_ADMIN_JWT_PUBLIC_KEY=PUBLIC, **over))


def token(key=KEY, alg="RS256", **claims) -> str:
    now = dt.datetime.now(dt.timezone.utc)
    body = {"sub": "ana", "iss": ISSUER, "aud": "jackpot-admin", "exp": now + dt.timedelta(minutes=5),
            "role": "manager", "brands": ["b1"]}
    body.update(claims)
    return jwt.encode({k: v for k, v in body.items() if v is not None}, key, algorithm=alg)


async def test_a_valid_token_gives_its_grant_and_the_person_comes_from_the_enrolment():
    g = await verifier().verify(token())
    assert (g.issuer, g.subject, g.role, g.brands, g.all_brands) == (ISSUER, "ana", Role.MANAGER, frozenset({"b1"}),
                                                                     False)
    p = g.principal("ana.smith")  # the person the identity was enrolled to, not the IdP's subject
    assert (p.actor, p.token_id, p.role) == ("ana.smith", f"jwt:{ISSUER}#ana", Role.MANAGER)
    c = await verifier().verify(token(role="custom", permissions=["drop:control"]))
    assert c.permissions == frozenset({Permission.DROP_CONTROL})


@pytest.mark.parametrize("claims", [
    {"aud": "someone-else"},
    {"iss": "https://evil.example"},
    {"exp": dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)},
    {"exp": None},
    {"role": "root"},
    {"brands": []},
    {"brands": "b1"},
    {"role": "custom", "permissions": ["everything"]},
])
async def test_bad_claims_are_refused(claims):
    with pytest.raises(Problem) as exc:
        await verifier().verify(token(**claims))
    assert exc.value.status == 401


async def test_other_keys_and_symmetric_or_none_algorithms_are_refused():
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    for bad in (token(key=other), token(key="shared-secret-of-32-bytes-or-more!!", alg="HS256"),
                jwt.encode({"sub": "x"}, None, algorithm="none")):
        with pytest.raises(Problem):
            await verifier().verify(bad)
    with pytest.raises(ValueError):
        verifier(JACKPOT_ADMIN_JWT_ALGORITHMS="HS256")
