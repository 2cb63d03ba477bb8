"""Configuration fails closed: an unknown `BAM_*` variable, a misspelt value or a setting that cannot be
applied stops the server at start (exit 2, naming the variable and the closest known name); a typo never
widens access. Also: every `BAM_*` name in the source and deployment files is a known variable."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from composite.cli import main
from composite.strict import CLIENT_VARIABLES, EXTRA_VARIABLES, known_variables, settings_classes, unknown_variables

ROOT = Path(__file__).resolve().parents[2]
NAME = re.compile(r"BAM_[A-Z0-9_]+")
KNOWN = sorted(known_variables())


def source_files() -> list[Path]:
    files = [*ROOT.joinpath("servers").rglob("*.py"), *ROOT.joinpath("composite").rglob("*.py")]
    files += [p for p in ROOT.joinpath("deploy").rglob("*") if p.is_file()]
    return [*files, ROOT / "Dockerfile", ROOT / "compose.yaml", ROOT / "server.json"]


def test_every_bam_variable_in_the_source_is_known() -> None:
    """Fails when code reads (or a deployment file sets) a `BAM_*` variable that no setting declares."""
    prefixes = {str(c.model_config.get("env_prefix", "")) for c in settings_classes()}
    unknown: dict[str, str] = {}
    for path in source_files():
        for name in set(NAME.findall(path.read_text(errors="replace"))):
            if name.endswith("_"):
                assert name in prefixes, f"{path}: prefix {name} is no settings class's env_prefix"
            elif name not in KNOWN and name not in CLIENT_VARIABLES:
                unknown[name] = str(path.relative_to(ROOT))
    assert not unknown, f"declare these as settings fields or in composite.strict.EXTRA_VARIABLES: {unknown}"


def test_known_variables_cover_every_settings_field() -> None:
    from composite.settings import AppSettings
    from servers.docker.settings import DockerSettings
    from servers.postgres.settings import PostgresSettings

    assert {f"BAM_{f.upper()}" for f in AppSettings.model_fields} <= set(KNOWN)
    assert {"BAM_PG_POOL_MAX_SIZE", "BAM_PG_DATABASE_URL", "BAM_DOCKER_HOST", "BAM_K8S_KUBECONFIG"} <= set(KNOWN)
    assert {"BAM_AUDIT_LOG", "BAM_RATE_LIMIT", "BAM_TLS_CERT", "BAM_SESSION_IDLE_S"} <= set(KNOWN)
    assert set(EXTRA_VARIABLES) <= set(KNOWN)
    assert PostgresSettings in settings_classes() and DockerSettings in settings_classes()


def test_unknown_variables_name_the_closest_known_one() -> None:
    env = {"BAM_ALLOW_WRITE": "postgres", "BAM_ALLOW_WRITES": "", "bam_allow_admin": "", "BAM_PG_POOL_MAX": "3"}
    assert unknown_variables(env, KNOWN) == [
        "unknown variable BAM_ALLOW_WRITE; did you mean BAM_ALLOW_WRITES?",
        "unknown variable BAM_PG_POOL_MAX; did you mean BAM_PG_POOL_MAX_SIZE?",
    ]
    assert unknown_variables({"PATH": "/bin", "DATABASE_URL": "x"}, KNOWN) == []


def _near_misses(name: str) -> st.SearchStrategy[str]:
    body = name[len("BAM_") :]
    i = st.integers(0, len(body) - 1)
    letter = st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZ_0123456789")
    return st.one_of(
        i.map(lambda k: body[:k] + body[k + 1 :]),
        st.tuples(i, letter).map(lambda t: body[: t[0]] + t[1] + body[t[0] :]),
        st.tuples(i, letter).map(lambda t: body[: t[0]] + t[1] + body[t[0] + 1 :]),
    ).map(lambda b: "BAM_" + b)


@settings(max_examples=300, deadline=None)
@given(typo=st.sampled_from(KNOWN).flatmap(_near_misses))
def test_generated_typos_are_refused_never_ignored(typo: str) -> None:
    assume(typo not in KNOWN)
    (message,) = unknown_variables({typo: "all"}, KNOWN)
    assert message.startswith(f"unknown variable {typo}")
    assert "did you mean BAM_" in message  # one edit away: the closest known name is always offered


def run_serve(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "composite", "serve", *args],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
    )


CASES = [
    ((), {"BAM_ALLOW_WRITE": "postgres"}, "unknown variable BAM_ALLOW_WRITE; did you mean BAM_ALLOW_WRITES?"),
    ((), {"BAM_EXCLUDE_TOOL": "pg_query"}, "did you mean BAM_EXCLUDE_TOOLS?"),
    ((), {"BAM_AUTH_TOKEN": "tok-1"}, "unknown variable BAM_AUTH_TOKEN; did you mean BAM_AUTH_TOKENS?"),
    ((), {"BAM_ALLOW_WRITES": "postgress"}, "unknown module 'postgress'"),
    (("--allow-admin", "redsi"), {}, "unknown module 'redsi'"),
    ((), {"BAM_TRANSPORT": "htp"}, "BAM_TRANSPORT (--transport): Input should be"),
    ((), {"BAM_DISCOVERY": "yess"}, "BAM_DISCOVERY (--discovery): Input should be a valid boolean"),
    ((), {"BAM_ALLOW_DESTRUCTIVE": "flase"}, "BAM_ALLOW_DESTRUCTIVE"),
    ((), {"BAM_PORT": "80800"}, "BAM_PORT (--port)"),
    ((), {"BAM_RATE_LIMIT": "-1"}, "BAM_RATE_LIMIT (--rate-limit)"),
    ((), {"BAM_LOG_LEVEL": "verbose"}, "'verbose' is not one of DEBUG"),
    ((), {"BAM_PG_POOL_MAX_SIZE": "ten"}, "postgres: BAM_PG_POOL_MAX_SIZE: Input should be a valid integer"),
    (("--servers", "redis"), {"BAM_REDIS_MODE": "clusterr"}, "redis: BAM_REDIS_MODE"),
    (("--exclude-tools", "pg_query,pg_qurey"), {}, "--exclude-tools pattern 'pg_qurey' matches no tool"),
    (("--audit-log", "/nonexistent-dir/audit.jsonl"), {}, "--audit-log '/nonexistent-dir/audit.jsonl' cannot be"),
    (("--rate-limit-redis", "redis://127.0.0.1:6379"), {}, "--rate-limit-redis needs --rate-limit"),
]


@pytest.mark.parametrize(("args", "env", "message"), CASES, ids=[c[2][:40] for c in CASES])
def test_settings_that_cannot_be_applied_stop_the_server(
    database_url: str,
    args: tuple[str, ...],
    env: dict[str, str],
    message: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """In-process (the same `main` the command runs): it exits before configuring or serving anything."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    servers = () if "--servers" in args else ("--servers", "postgres")
    with pytest.raises(SystemExit) as exit_:
        main(["serve", *servers, *args])
    out = capsys.readouterr()
    assert exit_.value.code == 2, out.err
    assert message in out.err and out.out == ""


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        ((), {"BAM_ALOW_WRITES": "all"}, "unknown variable BAM_ALOW_WRITES; did you mean BAM_ALLOW_WRITES?"),
        (("--toolsets", "postgres.quey"), {}, "unknown toolset 'postgres.quey'"),
    ],
)
def test_the_server_process_stops_at_start(
    database_url: str, args: tuple[str, ...], env: dict[str, str], message: str
) -> None:
    r = run_serve("--servers", "postgres", *args, env=env)
    assert r.returncode == 2, r.stderr
    assert message in r.stderr and "Traceback" not in r.stderr and r.stdout == ""


def test_a_module_that_is_not_mounted_may_be_excluded(database_url: str) -> None:
    r = subprocess.run(
        [sys.executable, "-m", "composite", "tools", "--servers", "postgres", "--exclude-tools", "docker_*,pg_expl*"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    assert "pg_query" in r.stdout and "pg_explain" not in r.stdout
