"""Generated adversarial inputs for the resource server: tampered tokens, arbitrary scope strings and
claim values. Whatever the input, verification fails closed and scopes never reach past what they name or
past the server policy."""

from __future__ import annotations

import base64
import functools
from collections.abc import Iterator
from typing import Any

import anyio
import jwt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from composite.app import build
from composite.auth import TIERS, Grants, JwksCache, JwtVerifier, _k8s_principal, _pg_principal
from composite.selection import Narrowing
from composite.settings import AppSettings
from tests.composite.auth_helpers import AUDIENCE, ISSUER, claims, jwks_server, mint, rsa_key

KEY = rsa_key()
SCOPE_WORDS = ["postgres", "redis", "kubernetes", "aws", "docker", "*", "pg", "k8s", "", "POSTGRES", "all"]
TIER_WORDS = ["read", "write", "admin", "", "Read", "*", "admin ", "owner"]


def _segments(token: str) -> list[bytes]:
    return [base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)) for p in token.split(".")]


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with jwks_server(KEY) as jwks:
        yield jwks.url


def verify_all(url: str, tokens: list[str]) -> list[Any]:
    async def run() -> list[Any]:
        verifier = JwtVerifier(ISSUER, AUDIENCE, JwksCache(url, min_refetch_s=3600))
        return [await verifier.verify_token(t) for t in tokens]

    return anyio.run(run)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    edits=st.lists(
        st.tuples(
            st.integers(min_value=0), st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-_.=")
        ),
        min_size=1,
        max_size=3,
    )
)
def test_a_tampered_token_is_refused_unless_it_decodes_to_the_same_token(
    url: str, edits: list[tuple[int, str]]
) -> None:
    good = mint(KEY, claims("postgres:read"))
    chars = list(good)
    for pos, ch in edits:
        chars[pos % len(chars)] = ch
    tampered = "".join(chars)
    got_good, got = verify_all(url, [good, tampered])
    assert got_good is not None and got_good.scopes == ["postgres:read"]
    if got is not None:  # base64url's spare bits: accepted only if every segment decodes to the same bytes
        assert _segments(tampered) == _segments(good)


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=300) | st.lists(st.text(max_size=40), min_size=3, max_size=3).map(".".join))
def test_arbitrary_strings_are_never_accepted(url: str, token: str) -> None:
    assert verify_all(url, [token]) == [None]


def test_unsigned_and_symmetric_tokens_are_refused_even_with_a_known_kid(url: str) -> None:
    body = claims("*:admin")
    forged = [
        jwt.encode(body, "s" * 64, algorithm="HS256", headers={"kid": KEY.kid}),
        jwt.encode(body, "x" * 64, algorithm="HS512", headers={"kid": KEY.kid}),
        mint(KEY, body, alg="RS256"),
    ]
    got = verify_all(url, forged)
    assert got[0] is None and got[1] is None and got[2] is not None


@functools.cache
def _index() -> Any:
    return build(AppSettings(servers="postgres,redis,docker", allow_writes="postgres,redis", allow_admin="redis")).index


scope_token = st.tuples(st.sampled_from(SCOPE_WORDS), st.sampled_from(TIER_WORDS)).map(lambda t: f"{t[0]}:{t[1]}")


@settings(max_examples=300, deadline=None)
@given(scopes=st.lists(scope_token | st.text(max_size=20), max_size=6))
def test_generated_scopes_never_reach_past_what_they_name_or_the_policy(scopes: list[str]) -> None:
    index = _index()
    grants = Grants.from_scopes(scopes)
    named: dict[str, int] = {}
    for s in scopes:
        module, _, tier = s.partition(":")
        if tier in TIERS:
            named[module] = max(named.get(module, 0), TIERS[tier])
    visible = index.visible(Narrowing(grants=grants))
    assert {e.name for e in visible} <= set(index.entries)  # never more than the server registered
    for e in visible:
        assert max(named.get(e.module, 0), named.get("*", 0)) >= TIERS[e.tier]
    for e in index.entries.values():
        allowed = e in visible
        assert (index.refusal(e.name, Narrowing(grants=grants)) is None) is allowed


claim_value = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(value=claim_value | st.sampled_from(["ro", "rw", ["ro"], ["rw", "x"]]), groups=claim_value)
def test_generated_claims_map_only_to_allow_listed_roles_and_clean_names(value: Any, groups: Any) -> None:
    p = _pg_principal(value, "c", ["ro", "rw"])
    assert (p.name in ("ro", "rw")) != bool(p.denied)
    k = _k8s_principal({"u": value, "g": groups}, "u", "g")
    if k.denied is None:
        assert isinstance(k.name, str) and not k.name.startswith("system:")
        assert all(isinstance(g, str) and not g.startswith("system:") for g in k.groups)
        assert all(ord(ch) >= 0x20 and ch != "\x7f" for n in (k.name, *k.groups) for ch in n)


def test_an_unreachable_or_oversized_jwks_refuses_tokens_and_recovers() -> None:
    from tests.conftest import free_port

    token = mint(KEY, claims("postgres:read"))

    async def run() -> None:
        down = JwtVerifier(ISSUER, AUDIENCE, JwksCache(f"http://127.0.0.1:{free_port()}/certs", min_refetch_s=0.2))
        assert await down.verify_token(token) is None  # nothing listens: refused, no exception
        with jwks_server(KEY) as jwks:
            jwks.keys = jwks.keys * 2000  # over the size cap
            big = JwtVerifier(ISSUER, AUDIENCE, JwksCache(jwks.url, min_refetch_s=0.2))
            assert await big.verify_token(token) is None
            jwks.publish(KEY)  # the issuer is fixed: the next unknown-kid refetch finds the key
            await anyio.sleep(0.3)
            assert await big.verify_token(token) is not None

    anyio.run(run)


def test_every_allowed_algorithm_verifies_and_a_key_pinned_to_another_alg_does_not() -> None:
    import json
    import uuid

    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    from composite.auth import ALGORITHMS
    from tests.composite.auth_helpers import Key

    rsa_private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_private = {"ES256": ec.SECP256R1(), "ES384": ec.SECP384R1(), "ES512": ec.SECP521R1()}
    keys: list[tuple[Key, dict[str, Any]]] = []
    for alg in ALGORITHMS:
        kid = f"{alg}-{uuid.uuid4().hex[:6]}"
        if alg == "EdDSA":
            private: Any = ed25519.Ed25519PrivateKey.generate()
            jwk = json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(private.public_key()))
        elif alg in ec_private:
            private = ec.generate_private_key(ec_private[alg])
            jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(private.public_key()))
        else:
            private = rsa_private
            jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key()))
        keys.append((Key(kid, alg, private), {**jwk, "kid": kid}))
    pinned = keys[0][1] | {"kid": "pinned", "alg": "RS512"}  # an RS256-capable RSA key published for RS512 only

    async def run() -> list[Any]:
        with jwks_server() as jwks:
            jwks.keys = [j for _, j in keys] + [pinned]
            verifier = JwtVerifier(ISSUER, AUDIENCE, JwksCache(jwks.url))
            tokens = [mint(k, claims("*:read")) for k, _ in keys]
            tokens.append(mint(keys[0][0], claims("*:read"), kid="pinned", alg="RS256"))
            return [await verifier.verify_token(t) for t in tokens]

    got = anyio.run(run)
    assert all(g is not None and g.scopes == ["*:read"] for g in got[:-1]), [
        a for a, g in zip(ALGORITHMS, got[:-1], strict=True) if not g
    ]
    assert got[-1] is None
