"""The caller's identity reaches the backend: a token claim becomes a PostgreSQL role (`SET LOCAL ROLE`,
from an allow-list) and a Kubernetes user/groups (impersonation). The same tool call succeeds for one
subject and is refused by the backend itself for another; a role never outlives its call on a pooled
connection."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import anyio
import asyncpg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from composite.auth import _k8s_principal, _pg_principal
from servers._common.identity import BackendIdentity, Principal, acting_as
from servers.postgres.client import resources
from servers.postgres.safety import check_write
from servers.postgres.settings import PostgresSettings
from tests.composite.auth_helpers import RawSession, auth_env, claims, jwks_server, mint, rsa_key
from tests.composite.conftest import start_server, stop_server

pytestmark = pytest.mark.anyio

RSA_KEY = rsa_key()


@dataclass
class Roles:
    reader: str
    nobody: str
    table: str
    login: str


@pytest.fixture
async def roles(database_url: str) -> AsyncIterator[Roles]:
    sfx = uuid.uuid4().hex[:8]
    r = Roles(f"bam_auth_reader_{sfx}", f"bam_auth_nobody_{sfx}", f"bam_auth_{sfx}.secrets", "")
    schema = r.table.split(".")[0]
    conn = await asyncpg.connect(database_url)
    r.login = await conn.fetchval("SELECT current_user")
    await conn.execute(
        f"CREATE ROLE {r.reader} NOLOGIN; CREATE ROLE {r.nobody} NOLOGIN; CREATE SCHEMA {schema};"
        f"CREATE TABLE {r.table} (v text); INSERT INTO {r.table} VALUES ('visible to the reader');"
        f"GRANT USAGE ON SCHEMA {schema} TO {r.reader}, {r.nobody}; GRANT SELECT ON {r.table} TO {r.reader};"
    )
    try:
        yield r
    finally:
        await conn.execute(f"DROP SCHEMA {schema} CASCADE; DROP ROLE {r.reader}; DROP ROLE {r.nobody};")
        await conn.close()


def as_role(role: str | None) -> BackendIdentity:
    return BackendIdentity(postgres=Principal(name=role))


async def test_pg_role_per_subject_over_http(roles: Roles) -> None:
    with jwks_server(RSA_KEY) as jwks:
        env = auth_env(jwks, BAM_PG_ROLE_CLAIM="pg_role", BAM_PG_ROLES=f"{roles.reader},{roles.nobody}")
        sp = start_server("--transport", "http", "--json-response", "--servers", "postgres", env=env)
        select = {"sql": f"SELECT v, current_user AS who FROM {roles.table}"}
        try:
            for role, allowed in ((roles.reader, True), (roles.nobody, False)):
                s = RawSession(sp.base, mint(RSA_KEY, claims("postgres:read", pg_role=role)))
                assert (await s.initialize()).status_code == 200
                for args in (select, {**select, "offset": 0, "timeout_ms": 5000}, {**select, "offset": 1}):
                    res = (await s.call("pg_query", args)).json()["result"]
                    if allowed:
                        assert not res.get("isError"), res
                        assert all(row["who"] == role for row in res["structuredContent"]["rows"])
                    else:
                        assert res["isError"] and "42501" in res["content"][0]["text"], res  # the backend refused
                await s.aclose()
            for token_claims in ({"pg_role": roles.login}, {}, {"pg_role": [roles.reader, roles.nobody]}):
                s = RawSession(sp.base, mint(RSA_KEY, claims("postgres:read", **token_claims)))
                assert (await s.initialize()).status_code == 200
                res = (await s.call("pg_query", select)).json()["result"]
                assert res["isError"] and "insufficient_identity" in res["content"][0]["text"], token_claims
                await s.aclose()
        finally:
            stop_server(sp)


async def test_a_role_never_leaks_to_the_next_caller_of_a_pooled_connection(roles: Roles) -> None:
    async def who(pg: Any, *, write: bool = False) -> tuple[str, bool]:
        async with pg.connection(write=write) as conn:
            return await conn.fetchval("SELECT current_user"), conn.is_in_transaction()

    settings = PostgresSettings(pool_min_size=1, pool_max_size=1)
    async with resources(settings) as pg:
        with acting_as(as_role(roles.reader)):
            assert await who(pg) == (roles.reader, True)  # inside the call's own transaction
            assert await who(pg, write=True) == (roles.reader, False)
            async with pg.transaction(read_only=True) as tx:
                assert await tx.conn.fetchval("SELECT current_user") == roles.reader
        assert await who(pg) == (roles.login, False)
        assert await who(pg, write=True) == (roles.login, False)
        # A refused statement, then a cancelled one, under a role: the next caller is still the login role.
        with acting_as(as_role(roles.nobody)):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                async with pg.connection() as conn:
                    await conn.fetch(f"SELECT * FROM {roles.table}")
            with anyio.move_on_after(0.3):
                async with pg.connection() as conn:
                    await conn.fetch("SELECT pg_sleep(5)")
        assert await who(pg) == (roles.login, False)
    async with resources(PostgresSettings(pool_min_size=2, pool_max_size=2)) as pg:
        seen: list[tuple[str | None, str]] = []

        async def one(role: str | None) -> None:
            with acting_as(as_role(role) if role else None):
                async with pg.connection() as conn:
                    await conn.fetchval("SELECT pg_sleep(0.01)")
                    seen.append((role, await conn.fetchval("SELECT current_user")))

        async with anyio.create_task_group() as tg:
            for i in range(30):
                tg.start_soon(one, [roles.reader, roles.nobody, None][i % 3])
        assert all(got == (role or roles.login) for role, got in seen) and len(seen) == 30


@pytest.mark.parametrize(
    "sql",
    ["SET ROLE postgres", "SET LOCAL ROLE postgres", "RESET ROLE", "SET SESSION AUTHORIZATION postgres",
     "RESET SESSION AUTHORIZATION", "set role = 'postgres'", "SET ROLE NONE", "SET SESSION AUTHORIZATION DEFAULT"],
)  # fmt: skip
def test_pg_execute_cannot_leave_the_role_the_server_set(sql: str) -> None:
    with pytest.raises(Exception, match="role or authorization is refused"):
        check_write(sql)


_ws = st.sampled_from([" ", "  ", "\n", "\t", " /* c */ ", "\n-- c\n"])


@settings(max_examples=200, deadline=None)
@given(
    verb=st.sampled_from(["SET", "SET SESSION", "SET LOCAL", "RESET"]),
    what=st.sampled_from(["ROLE", "role", "SESSION AUTHORIZATION", '"role"', "session_authorization"]),
    value=st.sampled_from(["", " postgres", " = 'postgres'", " TO postgres", ' "Postgres"', " DEFAULT", " NONE"]),
    sep=_ws,
    flip=st.booleans(),
)
def test_generated_spellings_of_a_role_switch_are_refused(
    verb: str, what: str, value: str, sep: str, flip: bool
) -> None:
    sql = f"{verb}{sep}{what}{value if verb != 'RESET' else ''}"
    sql = sql.swapcase() if flip and '"' not in sql else sql
    try:
        check_write(sql)
    except Exception as exc:  # refused as a role switch, or not even valid SQL
        assert "role or authorization is refused" in str(exc) or "syntax error" in str(exc), (sql, str(exc))
    else:
        pytest.fail(f"accepted: {sql!r}")


def test_claim_to_principal_mapping_fails_closed() -> None:
    allowed = ["ro", "rw"]
    assert _pg_principal("ro", "c", allowed).name == "ro"
    assert _pg_principal(["x", "rw"], "c", allowed).name == "rw"
    for value in (None, "", "postgres", ["ro", "rw"], 7, {"ro": 1}):
        assert _pg_principal(value, "c", allowed).denied, value
    ok = _k8s_principal({"u": "alice", "g": ["team-a"]}, "u", "g")
    assert (ok.name, ok.groups) == ("alice", ("team-a",))
    for c in ({}, {"u": ""}, {"u": "system:admin"}, {"u": "a\nb"}, {"u": "a", "g": ["system:masters"]}, {"u": 1}):
        assert _k8s_principal(c, "u", "g").denied, c


# -- Kubernetes impersonation ----------------------------------------------------------------------


@pytest.fixture
def rbac(kubeconfig: str) -> Iterator[tuple[str, str]]:
    """A namespace with one ConfigMap; user `bam-alice-*` and group `bam-readers-*` may read ConfigMaps there."""
    from kubernetes import client, config

    api = config.new_client_from_config(config_file=kubeconfig)  # type: ignore[no-untyped-call]
    core: Any = client.CoreV1Api(api)
    rbac_api: Any = client.RbacAuthorizationV1Api(api)
    sfx = uuid.uuid4().hex[:8]
    ns, user, group = f"bam-auth-{sfx}", f"bam-alice-{sfx}", f"bam-readers-{sfx}"
    core.create_namespace({"metadata": {"name": ns}})
    core.create_namespaced_config_map(ns, {"metadata": {"name": "cfg"}, "data": {"k": "v"}})
    rule = {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]}
    rbac_api.create_namespaced_role(ns, {"metadata": {"name": "read-cm"}, "rules": [rule]})
    subjects = [
        {"kind": "User", "name": user, "apiGroup": "rbac.authorization.k8s.io"},
        {"kind": "Group", "name": group, "apiGroup": "rbac.authorization.k8s.io"},
    ]
    ref = {"kind": "Role", "name": "read-cm", "apiGroup": "rbac.authorization.k8s.io"}
    rbac_api.create_namespaced_role_binding(ns, {"metadata": {"name": "read-cm"}, "roleRef": ref, "subjects": subjects})
    try:
        yield ns, sfx
    finally:
        core.delete_namespace(ns)
        api.close()


async def test_kubernetes_impersonation_per_subject(rbac: tuple[str, str]) -> None:
    ns, sfx = rbac
    with jwks_server(RSA_KEY) as jwks:
        env = auth_env(
            jwks, BAM_K8S_IMPERSONATE_USER_CLAIM="preferred_username", BAM_K8S_IMPERSONATE_GROUPS_CLAIM="groups"
        )
        sp = start_server("--transport", "http", "--json-response", "--servers", "kubernetes", env=env)
        args = {"kind": "ConfigMap", "namespace": ns}
        cases: list[tuple[dict[str, Any], str]] = [
            ({"preferred_username": f"bam-alice-{sfx}"}, "ok"),  # bound as a user
            ({"preferred_username": f"bam-carol-{sfx}", "groups": [f"bam-readers-{sfx}"]}, "ok"),  # via a group
            ({"preferred_username": f"bam-bob-{sfx}"}, "403"),  # the API server's RBAC refuses
            ({"preferred_username": f"bam-bob-{sfx}", "groups": ["system:masters"]}, "insufficient_identity"),
            ({}, "insufficient_identity"),  # no claim: never the server's own credentials
        ]
        try:
            for extra, expect in cases:
                s = RawSession(sp.base, mint(RSA_KEY, claims("kubernetes:read", **extra)))
                assert (await s.initialize()).status_code == 200
                res = (await s.call("k8s_resources_list", args)).json()["result"]
                text = res["content"][0]["text"] if res.get("isError") else ""
                if expect == "ok":
                    assert not res.get("isError"), res
                    assert "cfg" in str(res["structuredContent"]), res
                else:
                    assert res["isError"] and expect in text and "cfg" not in text, (extra, text)
                await s.aclose()
        finally:
            stop_server(sp)
