"""`doctor --policy`: the effective tool policy, and what the backend credentials themselves may do.

The policy decides which tools exist; the credentials decide what the backend lets them do. When the
credentials are more powerful than the policy (a superuser behind a read-only PostgreSQL policy, a Redis
user with `+@all`, a cluster role that may delete), a bug or an injected instruction that got past the
policy meets no second wall. This reports both and flags each such gap; the exit code is 1 when there is
one, so a deployment check can insist on least-privilege credentials.
"""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass, field
from inspect import iscoroutinefunction as inspect_is_async
from typing import Any

import anyio
import orjson

from servers._common.output import redact_text
from servers._common.tools import ADMIN, ToolSpec

INSPECT_TIMEOUT_S = 10.0
TIERS = ("read", "write", "destructive", "admin")


@dataclass
class Credentials:
    module: str
    principal: str | None = None
    facts: dict[str, Any] = field(default_factory=dict)
    powers: list[str] = field(default_factory=list)
    """What the credentials allow beyond reading: `write`, `admin`."""
    warnings: list[str] = field(default_factory=list)
    error: str | None = None


def tier(spec: ToolSpec) -> str:
    if spec.level == ADMIN:
        return "admin"
    if spec.is_destructive:
        return "destructive"
    return "write" if spec.is_write else "read"


def registered_tier(tool: Any) -> str:
    """The tier of a registered tool, from its annotations and the level `make_tools` put in its meta."""
    a = tool.annotations
    if (getattr(tool, "meta", None) or {}).get("level") == ADMIN:
        return "admin"
    if a is not None and not a.read_only_hint:
        return "destructive" if a.destructive_hint else "write"
    return "read"


def policy_report(app: Any) -> dict[str, Any]:
    """The policy settings and, per mounted module and tier, the tools exposed and hidden."""
    s = app.settings
    exposed = {name: registered_tier(e.tool) for name, e in app.index.entries.items()}
    modules: dict[str, Any] = {}
    for m in app.mounted:
        catalog = m.info.catalog()
        specs: list[ToolSpec] = [*catalog.tools, *catalog.variants]
        tiers: dict[str, dict[str, list[str]]] = {t: {"exposed": [], "hidden": []} for t in TIERS}
        for spec in specs:
            name = f"{m.info.prefix}{spec.name}"
            t = tier(spec)
            tiers[t]["exposed" if exposed.get(name) == t else "hidden"].append(name)
        modules[m.info.key] = tiers
    return {
        "allow_writes": s.allow_writes or "(none)",
        "allow_admin": s.allow_admin or "(none)",
        "allow_destructive": s.allow_destructive,
        "toolsets": s.toolsets,
        "tools": s.tools or "(all)",
        "exclude_tools": s.exclude_tools or "(none)",
        "discovery": s.discovery,
        "modules": modules,
    }


# --- what the credentials may do ------------------------------------------------------------------------

PG_ROLE_SQL = """
SELECT r.rolname, r.rolsuper, r.rolcreaterole, r.rolcreatedb, r.rolreplication, r.rolbypassrls,
       current_setting('default_transaction_read_only') AS default_transaction_read_only,
       pg_is_in_recovery() AS in_recovery,
       ARRAY(SELECT b.rolname::text FROM pg_roles b
             WHERE b.oid <> r.oid AND pg_has_role(r.oid, b.oid, 'MEMBER') ORDER BY 1) AS member_of,
       EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
                 AND has_table_privilege(c.oid, 'INSERT,UPDATE,DELETE,TRUNCATE')) AS can_write_tables,
       EXISTS (SELECT 1 FROM pg_namespace n WHERE n.nspname NOT LIKE 'pg\\_%'
                 AND n.nspname <> 'information_schema' AND has_schema_privilege(n.oid, 'CREATE')) AS can_create
FROM pg_roles r WHERE r.rolname = current_user
"""
PG_ADMIN_ROLES = ("pg_execute_server_program", "pg_read_server_files", "pg_write_server_files", "pg_signal_backend")


async def postgres_credentials() -> Credentials:
    import asyncpg

    from servers.postgres.settings import PostgresSettings

    c = Credentials("postgres")
    conn = await asyncpg.connect(PostgresSettings().dsn(), timeout=INSPECT_TIMEOUT_S)
    try:
        row = await conn.fetchrow(PG_ROLE_SQL)
    finally:
        await conn.close()
    assert row is not None
    c.principal = row["rolname"]
    c.facts = {k: v for k, v in dict(row).items() if k != "rolname"}
    read_only = row["default_transaction_read_only"] == "on" or row["in_recovery"]
    admin = [k for k in ("rolsuper", "rolcreaterole", "rolreplication", "rolbypassrls") if row[k]]
    admin += [r for r in row["member_of"] if r in PG_ADMIN_ROLES]
    if admin:
        c.powers.append("admin")
        c.facts["admin_attributes"] = admin
    if not read_only and (row["rolsuper"] or row["can_write_tables"] or row["can_create"] or row["rolcreatedb"]):
        c.powers.append("write")
    return c


REDIS_WRITE = ("+@all", "+@write", "+@dangerous", "allcommands")
REDIS_ADMIN = ("+@all", "+@admin", "+@dangerous", "allcommands")


async def redis_credentials() -> Credentials:
    import redis.asyncio as aioredis
    from redis.exceptions import ResponseError

    from servers.redis.settings import RedisSettings

    c = Credentials("redis")
    s = RedisSettings()
    url = s.dsn()
    if not url:
        raise RuntimeError(
            "REDIS_URL is unset: only a URL's user is inspected (cluster and sentinel use its credentials)"
        )
    client: Any = aioredis.from_url(url, socket_timeout=INSPECT_TIMEOUT_S, decode_responses=True)
    try:
        c.principal = str(await client.execute_command("ACL", "WHOAMI"))
        try:
            raw = await client.execute_command("ACL", "GETUSER", c.principal)
        except ResponseError as exc:  # NOPERM: the user may not read its own ACL
            c.facts["acl"] = f"not readable: {str(exc)[:120]}"
            return c
    finally:
        await client.aclose()
    acl = dict(zip(raw[::2], raw[1::2], strict=True)) if isinstance(raw, list) else dict(raw or {})
    commands = str(acl.get("commands", ""))
    c.facts = {
        "flags": list(acl.get("flags", [])),
        "commands": commands,
        "categories": [w for w in commands.split() if "@" in w],
        "keys": acl.get("keys"),
    }
    words = set(commands.split()) | set(c.facts["flags"])
    if words & set(REDIS_WRITE):
        c.powers.append("write")
    if words & set(REDIS_ADMIN):
        c.powers.append("admin")
    return c


K8S_WRITE_VERBS = {"create", "update", "patch", "delete", "deletecollection", "*"}
K8S_ADMIN_VERBS = {"escalate", "bind", "impersonate", "*"}


def kubernetes_credentials_sync() -> Credentials:
    from kubernetes import client

    from servers.kubernetes.client import load_clients
    from servers.kubernetes.settings import KubernetesSettings

    c = Credentials("kubernetes")
    cluster = load_clients(KubernetesSettings()).cluster(None)
    namespace = cluster.default_namespace
    review = client.V1SelfSubjectRulesReview(spec=client.V1SelfSubjectRulesReviewSpec(namespace=namespace))
    status = client.AuthorizationV1Api(cluster.api).create_self_subject_rules_review(review).status
    if status is None:
        raise RuntimeError("the API server returned no rules review status")
    rules = [
        {"verbs": r.verbs, "apiGroups": r.api_groups or [], "resources": r.resources or []}
        for r in status.resource_rules or []
    ]
    c.principal = f"context {cluster.name}"
    c.facts = {"namespace": namespace, "resource_rules": rules[:50], "incomplete": status.incomplete}
    verbs = {v for r in rules for v in r["verbs"]}
    if verbs & K8S_WRITE_VERBS:
        c.powers.append("write")
    secrets = any("secrets" in r["resources"] or "*" in r["resources"] for r in rules)
    if verbs & K8S_ADMIN_VERBS or (secrets and "create" in verbs):
        c.powers.append("admin")
    return c


def aws_credentials_sync() -> Credentials:
    import boto3

    from servers.aws.settings import AwsSettings

    s = AwsSettings()
    session = boto3.Session(profile_name=s.profile, region_name=s.region or "us-east-1")
    identity = session.client("sts", endpoint_url=s.endpoint_url).get_caller_identity()
    arn = str(identity.get("Arn", ""))
    c = Credentials("aws", principal=arn, facts={"account": identity.get("Account"), "user_id": identity.get("UserId")})
    if arn.endswith(":root"):
        c.powers += ["write", "admin"]
        c.facts["note"] = "the account's root user: every permission"
    else:
        c.facts["note"] = "permissions come from IAM policies; check them with the IAM policy simulator"
    return c


def docker_credentials_sync() -> Credentials:
    from servers.docker.settings import DockerSettings

    target = DockerSettings().target()
    note = "access to the engine API is root-equivalent on the engine's host"
    return Credentials("docker", principal=target, facts={"note": note}, powers=["write", "admin"])


async def inspect(module: str) -> Credentials:
    """What `module`'s credentials may do: `<module>_credentials` (async) or `<module>_credentials_sync` (a thread)."""
    fn = globals().get(f"{module}_credentials") or globals()[f"{module}_credentials_sync"]
    try:
        with anyio.fail_after(INSPECT_TIMEOUT_S + 2):
            if inspect_is_async(fn):
                return await fn()  # type: ignore[no-any-return]
            return await anyio.to_thread.run_sync(fn)  # type: ignore[no-any-return]
    except Exception as exc:
        return Credentials(module, error=redact_text(f"{type(exc).__name__}: {exc}")[:300])


def compare(c: Credentials, policy: Any) -> None:
    """Flag each power of the credentials that the policy does not grant."""
    if "write" in c.powers and not policy.writes_allowed(c.module):
        c.warnings.append(f"the credentials can change {c.module} but the policy is read-only for it")
    if "admin" in c.powers and not policy.admin_allowed(c.module):
        c.warnings.append(f"the credentials hold admin powers on {c.module} that the policy does not grant")


async def doctor_policy(app: Any, as_json: bool) -> int:
    from composite.app import tool_policy

    policy = tool_policy(app.settings, frozenset())
    report = policy_report(app)
    found: dict[str, Credentials] = {}

    async def one(key: str) -> None:
        found[key] = await inspect(key)

    async with anyio.create_task_group() as tg:
        for m in app.mounted:
            tg.start_soon(one, m.info.key)
    creds = [found[m.info.key] for m in app.mounted]
    for c in creds:
        compare(c, policy)
    if as_json:
        out = {"policy": report, "credentials": [asdict(c) for c in creds]}
        sys.stdout.write(orjson.dumps(out, option=orjson.OPT_INDENT_2, default=str).decode() + "\n")
    else:
        sys.stdout.write(render(report, creds))
    return 1 if any(c.warnings for c in creds) else 0


def render(report: dict[str, Any], creds: list[Credentials]) -> str:
    lines = ["Policy"]
    for k in ("allow_writes", "allow_admin", "allow_destructive", "toolsets", "tools", "exclude_tools"):
        lines.append(f"  {k:18} {report[k]}")
    for module, tiers in report["modules"].items():
        lines.append(f"  {module}:")
        for t in TIERS:
            shown, hidden = tiers[t]["exposed"], tiers[t]["hidden"]
            if shown or hidden:
                lines.append(f"    {t:12} exposed {len(shown):3}  hidden {len(hidden):3}  {', '.join(shown) or '-'}")
    lines.append("Credentials")
    for c in creds:
        if c.error:
            lines.append(f"  {c.module:11} could not be inspected: {c.error}")
            continue
        lines.append(f"  {c.module:11} {c.principal}: may {', '.join(['read', *c.powers])}")
        for k, v in c.facts.items():
            lines.append(f"    {k}: {v}")
        lines += [f"    WARNING: {w}" for w in c.warnings]
    return "\n".join(lines) + "\n"
