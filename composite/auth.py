"""The OAuth 2.1 resource server: bearer tokens, per-module scopes, and the caller's backend identity.

Two token sources, through the SDK's own `TokenVerifier` / `AuthSettings` hooks:

- JWT access tokens (`--auth-issuer`, `--auth-audience`, `--auth-jwks-url`), verified with PyJWT against the
  issuer's JWKS: an allow-list of asymmetric algorithms, `iss`, `aud` (the RFC 8707 resource), `exp`/`nbf`
  with a small leeway. The JWKS is cached; a token with an unknown `kid` refetches it once, at most once
  per `JWKS_MIN_REFETCH_S`.
- Static tokens (`BAM_AUTH_TOKENS`), each with its own scopes: `token=scope scope,token2=scope`; a token
  without `=scopes` has every scope (`*:admin`). An entry `sha256:<hex>` is a token given by its hash.
  Only SHA-256 digests are kept.

Scopes `<module>:read|write|admin` (`*` for every module) are cumulative and come from `scope` (space
separated) or `scp` (a list). They narrow what the server policy (`--allow-writes`, `--allow-admin`)
registered; they never widen it. The ceiling is applied to `tools/list` and at call time (composite.selection,
composite.discovery); `ScopeGate` answers a `tools/call` outside the scopes with HTTP 403
`insufficient_scope` before anything runs.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import anyio
import orjson
from mcp.server.auth.provider import AccessToken
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from composite.body import read_body
from servers._common.identity import BackendIdentity, Principal
from servers.registry import MODULES

if TYPE_CHECKING:
    from composite.settings import AppSettings

log = logging.getLogger("backend_architect_mcp.auth")

ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
"""Asymmetric signature algorithms only: never `none`, never HMAC (a public key is not a secret)."""
LEEWAY_S = 30
JWKS_TTL_S = 300.0
JWKS_MIN_REFETCH_S = 5.0
JWKS_MAX_BYTES = 256 * 1024
TIERS = {"read": 1, "write": 2, "admin": 3}
WILDCARD = "*"
_SCOPE = re.compile(r"^([a-z]+|\*):(read|write|admin)$")
_HASHED = re.compile(r"^sha256:([0-9a-f]{64})$")
METADATA_PATH = "/.well-known/oauth-protected-resource"
INSUFFICIENT_SCOPE_CODE = -32003
"""JSON-RPC error code of a call refused for a missing scope (server-defined range)."""


# -- scopes --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Grants:
    """What a token's scopes allow: the highest tier per module (`*`: every module)."""

    levels: Mapping[str, int]

    @classmethod
    def from_scopes(cls, scopes: list[str]) -> Grants:
        levels: dict[str, int] = {}
        for s in scopes:
            m = _SCOPE.match(s)
            if m and (m.group(1) in MODULES or m.group(1) == WILDCARD):
                levels[m.group(1)] = max(levels.get(m.group(1), 0), TIERS[m.group(2)])
        return cls(levels)

    def level(self, module: str) -> int:
        return max(self.levels.get(module, 0), self.levels.get(WILDCARD, 0))

    def allows(self, module: str, tier: str) -> bool:
        return self.level(module) >= TIERS[tier]

    def any(self, tier: str) -> bool:
        return any(v >= TIERS[tier] for v in self.levels.values())


def scopes_of(claims: Mapping[str, Any]) -> list[str]:
    """The token's scopes: `scope` (space separated) or `scp` (a list, or a space-separated string)."""
    raw = claims.get("scope", claims.get("scp"))
    if isinstance(raw, str):
        return raw.split()
    if isinstance(raw, list):
        return [s for s in raw if isinstance(s, str)]
    return []


def token_of(request: Any) -> AccessToken | None:
    """The access token the request was authenticated with (a Starlette request or an ASGI scope)."""
    scope = request if isinstance(request, dict) else getattr(request, "scope", None)
    user = scope.get("user") if isinstance(scope, dict) else None
    token = getattr(user, "access_token", None)
    return token if isinstance(token, AccessToken) else None


def grants_of(request: Any) -> Grants | None:
    """The ceiling of the request's access token; None when the request carries no token (no auth)."""
    token = token_of(request)
    return Grants.from_scopes(token.scopes) if token is not None else None


def missing_scope(module: str, tier: str) -> str:
    return f"{module}:{tier}"


def scopes_supported(modules: list[str], writes: Mapping[str, bool], admin: Mapping[str, bool]) -> list[str]:
    """The scopes that mean something on this server: read for each module, write/admin where allowed."""
    out: list[str] = []
    for m in modules:
        out.append(f"{m}:read")
        if writes.get(m):
            out.append(f"{m}:write")
        if admin.get(m):
            out.append(f"{m}:admin")
    return out


# -- static tokens -------------------------------------------------------------------------------


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def parse_static_tokens(spec: str) -> list[tuple[bytes, list[str]]]:
    """`tok-a=postgres:read redis:write,tok-b,sha256:<hex>=*:read` as (sha256 digest, scopes) pairs."""
    out: list[tuple[bytes, list[str]]] = []
    for item in (x.strip() for x in spec.split(",")):
        if not item:
            continue
        token, scopes = item, [f"{WILDCARD}:admin"]
        head, sep, tail = item.rpartition("=")
        if sep and head and tail.split() and all(_SCOPE.match(s) for s in tail.split()):
            token, scopes = head.strip(), tail.split()
            bad = [s for s in scopes if s.split(":")[0] not in (*MODULES, WILDCARD)]
            if bad:
                raise ValueError(f"BAM_AUTH_TOKENS: unknown module in scope {bad[0]!r}")
        hashed = _HASHED.match(token)
        out.append((bytes.fromhex(hashed.group(1)) if hashed else _digest(token), scopes))
    if not out:
        raise ValueError("BAM_AUTH_TOKENS is set but holds no token")
    return out


def hashed_spec(entries: list[tuple[bytes, list[str]]]) -> str:
    """The same tokens as `sha256:<hex>=scopes` entries: what the settings keep once they are parsed."""
    return ",".join(f"sha256:{d.hex()}={' '.join(s)}" for d, s in entries)


class StaticTokenVerifier:
    """Accepts the `BAM_AUTH_TOKENS` tokens, compared by SHA-256 digest in constant time."""

    def __init__(self, spec: str) -> None:
        self._entries = parse_static_tokens(spec)

    @property
    def entries(self) -> list[tuple[bytes, list[str]]]:
        return list(self._entries)

    async def verify_token(self, token: str) -> AccessToken | None:
        digest = _digest(token)
        found: AccessToken | None = None
        for i, (known, scopes) in enumerate(self._entries):
            if hmac.compare_digest(digest, known) and found is None:
                client = f"static-token-{i + 1}"
                found = AccessToken(token=token, client_id=client, scopes=list(scopes), subject=client)
        return found


# -- JWT access tokens ---------------------------------------------------------------------------


def check_fetch_url(url: str, what: str) -> str:
    """https, or http to a loopback address (tests, a sidecar); nothing else."""
    parts = urlsplit(url)
    host = (parts.hostname or "").strip("[]")
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if parts.scheme == "https" and host:
        return url
    if parts.scheme == "http" and loopback:
        return url
    raise ValueError(f"{what} must be an https:// URL (http only to a loopback address), got {url[:200]!r}")


class JwksCache:
    """The issuer's signing keys by `kid`; refetched after `ttl_s`, or once for an unknown `kid` (rate-limited)."""

    def __init__(self, url: str, *, ttl_s: float = JWKS_TTL_S, min_refetch_s: float = JWKS_MIN_REFETCH_S) -> None:
        self.url = check_fetch_url(url, "--auth-jwks-url")
        self.ttl_s = ttl_s
        self.min_refetch_s = min_refetch_s
        self._keys: dict[str, dict[str, Any]] = {}
        self._fetched_at: float | None = None
        self._lock = anyio.Lock()

    async def get(self, kid: str | None) -> dict[str, Any] | None:
        """The JWK for `kid` (None: the only signing key, when there is exactly one)."""
        now = time.monotonic()
        if self._fetched_at is None or now - self._fetched_at > self.ttl_s:
            await self._refresh(force=True)
        key = self._find(kid)
        if key is None and self._fetched_at is not None and time.monotonic() - self._fetched_at >= self.min_refetch_s:
            await self._refresh(force=False)
            key = self._find(kid)
        return key

    def _find(self, kid: str | None) -> dict[str, Any] | None:
        if kid is None:
            return next(iter(self._keys.values())) if len(self._keys) == 1 else None
        return self._keys.get(kid)

    async def _refresh(self, *, force: bool) -> None:
        async with self._lock:
            last = self._fetched_at
            if last is not None and time.monotonic() - last < (self.min_refetch_s if not force else 0.5):
                return  # another request refreshed it just now
            self._fetched_at = time.monotonic()  # failures count too: an unreachable issuer is not hammered
            try:
                self._keys = await self._fetch()
            except Exception as exc:
                log.warning("JWKS fetch from %s failed (%s); keeping %d cached keys", self.url, exc, len(self._keys))

    async def _fetch(self) -> dict[str, dict[str, Any]]:
        import httpx2

        body = b""
        async with (
            httpx2.AsyncClient(timeout=5.0, follow_redirects=False) as client,
            client.stream("GET", self.url, headers={"Accept": "application/json"}) as resp,
        ):
            if resp.status_code != 200:
                raise ValueError(f"HTTP {resp.status_code}")
            async for chunk in resp.aiter_bytes():
                body += chunk
                if len(body) > JWKS_MAX_BYTES:
                    raise ValueError(f"larger than {JWKS_MAX_BYTES} bytes")
        keys = orjson.loads(body).get("keys")
        if not isinstance(keys, list):
            raise ValueError("no `keys` array")
        out: dict[str, dict[str, Any]] = {}
        for k in keys:
            if isinstance(k, dict) and k.get("kty") in ("RSA", "EC", "OKP") and k.get("use", "sig") == "sig":
                out[str(k.get("kid", ""))] = k
        log.info("JWKS from %s: %d signing keys", self.url, len(out))
        return out


class JwtVerifier:
    """Verifies JWT access tokens issued by one authorization server for this resource."""

    def __init__(self, issuer: str, audience: str, jwks: JwksCache) -> None:
        self.issuer = issuer
        self.audience = audience
        self.jwks = jwks

    async def verify_token(self, token: str) -> AccessToken | None:
        import jwt

        try:
            header = jwt.get_unverified_header(token)
        except Exception:  # whatever a malformed token raises, it is refused
            return None
        alg, kid = header.get("alg"), header.get("kid")
        if alg not in ALGORITHMS or (kid is not None and not isinstance(kid, str)):
            return None
        jwk = await self.jwks.get(kid)
        if jwk is None or jwk.get("alg", alg) != alg:
            return None
        try:
            key = jwt.PyJWK(jwk, algorithm=alg)
            claims = jwt.decode(
                token,
                key=key.key,
                algorithms=[alg],
                audience=self.audience,
                issuer=self.issuer,
                leeway=LEEWAY_S,
                options={"require": ["exp", "iss", "aud"]},
            )
            return access_token(token, claims, self.audience)
        except Exception as exc:  # fail closed: any error (also an absurd claim value) refuses the token
            log.info("bearer token refused: %s", type(exc).__name__)
            return None


def access_token(token: str, claims: dict[str, Any], audience: str) -> AccessToken:
    subject = claims.get("sub")
    client = claims.get("client_id") or claims.get("azp") or claims.get("cid") or subject or "unknown"
    exp = claims.get("exp")
    return AccessToken(
        token=token,
        client_id=str(client),
        scopes=scopes_of(claims),
        expires_at=int(exp) + LEEWAY_S if isinstance(exp, int | float) else None,  # the SDK re-checks it
        resource=audience,
        subject=str(subject) if subject is not None else None,
        claims=claims,
    )


class Verifiers:
    """Static tokens first (a digest lookup), then JWTs."""

    def __init__(self, static: StaticTokenVerifier | None, jwt: JwtVerifier | None) -> None:
        self.static = static
        self.jwt = jwt

    async def verify_token(self, token: str) -> AccessToken | None:
        if self.static is not None and (found := await self.static.verify_token(token)) is not None:
            return found
        if self.jwt is not None and token.count(".") == 2:
            return await self.jwt.verify_token(token)
        return None


# -- wiring --------------------------------------------------------------------------------------


def base_url(settings: AppSettings) -> str:
    return (settings.public_url or f"http://{settings.host}:{settings.port}").rstrip("/")


def check_settings(settings: AppSettings) -> None:
    """Refuse at start a token or identity configuration that cannot be applied as written."""
    jwt_parts = {"--auth-issuer": settings.auth_issuer, "--auth-jwks-url": settings.auth_jwks_url}
    if any(jwt_parts.values()) or settings.auth_audience:
        missing = [k for k, v in jwt_parts.items() if not v]
        if missing:
            raise ValueError(f"JWT access tokens need {' and '.join(missing)} as well")
        check_fetch_url(settings.auth_jwks_url, "--auth-jwks-url")
    mapped = [settings.pg_role_claim, settings.k8s_impersonate_user_claim, settings.k8s_impersonate_groups_claim]
    if any(mapped) and not auth_configured(settings):
        raise ValueError("claim mappings (BAM_PG_ROLE_CLAIM, BAM_K8S_IMPERSONATE_USER_CLAIM) need token authentication")
    if bool(settings.pg_role_claim) != bool(pg_roles(settings)):
        raise ValueError("BAM_PG_ROLE_CLAIM and BAM_PG_ROLES go together (the roles are the allow-list)")
    if settings.k8s_impersonate_groups_claim and not settings.k8s_impersonate_user_claim:
        raise ValueError("BAM_K8S_IMPERSONATE_GROUPS_CLAIM needs BAM_K8S_IMPERSONATE_USER_CLAIM (Kubernetes rule)")


def auth_configured(settings: AppSettings) -> bool:
    return settings.auth_tokens is not None or bool(settings.auth_issuer)


def pg_roles(settings: AppSettings) -> list[str]:
    from servers.postgres.client import quote_ident

    roles = [r.strip() for r in settings.pg_roles.split(",") if r.strip()]
    for r in roles:
        quote_ident(r)  # raises for a name PostgreSQL cannot have
    return roles


def build_verifier(settings: AppSettings) -> Verifiers | None:
    check_settings(settings)
    static = StaticTokenVerifier(settings.auth_tokens.get_secret_value()) if settings.auth_tokens else None
    jwt = None
    if settings.auth_issuer:
        audience = settings.auth_audience or f"{base_url(settings)}/mcp"
        jwt = JwtVerifier(settings.auth_issuer, audience, JwksCache(settings.auth_jwks_url))
    if static is None and jwt is None:
        return None
    return Verifiers(static, jwt)


def auth_kwargs(settings: AppSettings, verifier: Verifiers | None) -> dict[str, Any]:
    """`token_verifier` and `auth` for MCPServer. Only JWT mode names an authorization server: static
    tokens have none, so no protected-resource metadata points clients at an OAuth flow that cannot work."""
    if verifier is None:
        return {}
    from mcp.server.auth.settings import AuthSettings

    base = base_url(settings)
    if verifier.jwt is None:
        auth = AuthSettings(issuer_url=base, resource_server_url=None)  # type: ignore[arg-type]
    else:
        auth = AuthSettings(
            issuer_url=verifier.jwt.issuer,  # type: ignore[arg-type]
            resource_server_url=f"{base}/mcp",  # type: ignore[arg-type]
            validate_token_resource=False,  # JwtVerifier checks `aud` itself
        )
    return {"token_verifier": verifier, "auth": auth}


def metadata_route(settings: AppSettings, scopes: list[str]) -> Route:
    """RFC 9728 protected-resource metadata: the authorization server and the scopes this server knows."""
    resource = f"{base_url(settings)}/mcp"
    body = {
        "resource": resource,
        "authorization_servers": [settings.auth_issuer],
        "scopes_supported": scopes,
        "bearer_methods_supported": ["header"],
        "resource_name": "backend-architect-mcp",
    }

    async def metadata(_: Request) -> Response:
        return JSONResponse(body, headers={"Access-Control-Allow-Origin": "*", "Cache-Control": "max-age=3600"})

    return Route(f"{METADATA_PATH}/mcp", metadata, methods=["GET"])


def identity_for(token: AccessToken | None, settings: AppSettings) -> BackendIdentity | None:
    """The backend principals the caller's claims map to (None when nothing is mapped or no token)."""
    if token is None or not (settings.pg_role_claim or settings.k8s_impersonate_user_claim):
        return None
    claims = token.claims or {}
    pg = k8s = None
    if settings.pg_role_claim:
        pg = _pg_principal(claims.get(settings.pg_role_claim), settings.pg_role_claim, pg_roles(settings))
    if settings.k8s_impersonate_user_claim:
        k8s = _k8s_principal(claims, settings.k8s_impersonate_user_claim, settings.k8s_impersonate_groups_claim)
    return BackendIdentity(postgres=pg, kubernetes=k8s)


def _pg_principal(value: Any, claim: str, allowed: list[str]) -> Principal:
    values = [value] if isinstance(value, str) else value if isinstance(value, list) else []
    matches = [v for v in values if isinstance(v, str) and v in allowed]
    if len(matches) == 1:
        return Principal(name=matches[0])
    reason = "no role" if not matches else "more than one role"
    return Principal(denied=f"the token's `{claim}` claim names {reason} of the allow-list BAM_PG_ROLES")


_K8S_NAME = re.compile(r"^[^\x00-\x1f\x7f]{1,256}$")


def _k8s_principal(claims: Mapping[str, Any], user_claim: str, groups_claim: str) -> Principal:
    user = claims.get(user_claim)
    if not isinstance(user, str) or not _K8S_NAME.match(user) or user.startswith("system:"):
        return Principal(denied=f"the token has no usable `{user_claim}` claim to impersonate")
    raw = claims.get(groups_claim, []) if groups_claim else []
    groups = [raw] if isinstance(raw, str) else raw if isinstance(raw, list) else []
    if not all(isinstance(g, str) and _K8S_NAME.match(g) and not g.startswith("system:") for g in groups):
        return Principal(denied=f"the token's `{groups_claim}` claim holds a group that cannot be impersonated")
    return Principal(name=user, groups=tuple(groups))


# -- HTTP 403 for calls outside the token's scopes ------------------------------------------------


class ScopeGate:
    """Answers a JSON-RPC `tools/call` on `/mcp` outside the token's scopes with HTTP 403 `insufficient_scope`
    (RFC 6750 `WWW-Authenticate` with the missing scope) and a JSON-RPC error body naming it; nothing runs.

    `needed(name, arguments, grants)` returns the missing scope, or None. Only POSTs of an authenticated
    caller are read (the body is replayed to the app unchanged); anything unparsable is left to the app,
    whose own call-time check (composite.selection) refuses it the same way as a tool error. The legacy SSE
    transport answers its POSTs with 202 and the result on the stream, so there the tool error is the answer.
    """

    def __init__(
        self, app: ASGIApp, needed: Any, metadata_url: str | None, path: str = "/mcp", max_body: int = 4 << 20
    ) -> None:
        self.app = app
        self.needed = needed
        self.metadata_url = metadata_url
        self.path = path
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        gated = scope["type"] == "http" and scope["method"] == "POST" and scope["path"].rstrip("/") == self.path
        grants = grants_of(scope) if gated else None
        if grants is None:
            await self.app(scope, receive, send)
            return
        body, replay = await read_body(receive, self.max_body)
        refused = None if body is None else self._missing(body, grants)
        if refused is not None:
            await self._refuse(*refused, send)
            return
        await self.app(scope, replay, send)

    def _missing(self, body: bytes, grants: Grants) -> tuple[str, Any] | None:
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            return None
        for msg in data if isinstance(data, list) else [data]:
            if isinstance(msg, dict) and msg.get("method") == "tools/call" and isinstance(msg.get("params"), dict):
                params = msg["params"]
                args = params.get("arguments")
                missing = self.needed(params.get("name"), args if isinstance(args, dict) else {}, grants)
                if missing:
                    return str(missing), msg.get("id")
        return None

    async def _refuse(self, missing: str, request_id: Any, send: Send) -> None:
        desc = f"insufficient_scope: this call needs the scope {missing}; nothing was run"
        parts = ['error="insufficient_scope"', f'scope="{missing}"', f'error_description="{desc}"']
        if self.metadata_url:
            parts.append(f'resource_metadata="{self.metadata_url}"')
        error = {"code": INSUFFICIENT_SCOPE_CODE, "message": desc, "data": {"scope": missing}}
        body = orjson.dumps({"jsonrpc": "2.0", "id": request_id, "error": error})
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"www-authenticate", f"Bearer {', '.join(parts)}".encode()),
        ]
        await send({"type": "http.response.start", "status": 403, "headers": headers})
        await send({"type": "http.response.body", "body": body})
