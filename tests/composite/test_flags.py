"""Flags are generated from the settings model: one declaration per setting, the same names and variables."""

from __future__ import annotations

import argparse
import re

import pytest
from pydantic import Field

from composite.cli import add_serve_flags, parser, settings_from_args
from composite.flags import add_flags, flags, overrides
from composite.settings import AppSettings
from servers._common.settings import flag

SERVE_FLAGS = {
    "--servers", "--toolsets", "--discovery", "--allow-writes", "--allow-admin", "--no-destructive", "--tools",
    "--exclude-tools", "--log-level", "--transport", "--host", "--port", "--stateless", "--workers",
    "--json-response", "--require", "--allowed-hosts", "--auth-tokens", "--public-url",
}  # fmt: skip
"""The flags `serve` had when they were written by hand: none may disappear or change its name."""
EVERY_COMMAND = {"--servers", "--toolsets", "--discovery", "--allow-writes", "--allow-admin", "--no-destructive",
                 "--tools", "--exclude-tools", "--log-level"}  # fmt: skip


def options(p: argparse.ArgumentParser) -> set[str]:
    return set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", p.format_usage())) - {"--help", "--json"}


def subparser(name: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser()
    if name == "serve":
        add_serve_flags(p)
    else:
        add_flags(p, AppSettings, ("all",))
    return p


def test_every_setting_is_a_flag_named_after_it_with_its_variable_in_the_help() -> None:
    p = subparser("serve")
    assert options(p) >= SERVE_FLAGS
    assert options(subparser("tools")) >= EVERY_COMMAND and "--port" not in options(subparser("tools"))
    assert vars(p.parse_args([])) == dict.fromkeys(AppSettings.model_fields)  # absent flag: the environment decides
    text = " ".join(p.format_help().split())
    for f in flags(AppSettings):
        assert f.option in options(p)
        assert f"[BAM_{f.field.upper()}" in text
        assert " ".join((f.info.description or "").split())[:30] in text


def parse(*args: str) -> AppSettings:
    return settings_from_args(parser().parse_args(["serve", *args]))


def test_special_forms_are_field_metadata() -> None:
    assert parse("--allow-writes").allow_writes == "all"
    assert parse("--allow-writes", "pg,redis").allow_writes == "pg,redis"
    assert parse("--allow-admin", "--discovery").allow_admin == "all"
    assert parse("--no-destructive").allow_destructive is False
    assert parse("--require", "none").required == "none"
    assert parse("--port", "9001", "--workers", "2").port == 9001
    with pytest.raises(SystemExit):
        parser().parse_args(["serve", "--port", "eighty"])
    with pytest.raises(SystemExit):
        parser().parse_args(["serve", "--required", "none"])  # the flag is --require, as before


def test_switches_left_off_keep_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BAM_STATELESS", "1")
    monkeypatch.setenv("BAM_ALLOW_DESTRUCTIVE", "false")
    monkeypatch.setenv("BAM_REQUIRED", "redis")
    s = settings_from_args(parser().parse_args(["tools", "--servers", "redis"]))
    assert s.stateless and not s.allow_destructive and s.required == "redis" and s.servers == "redis"


def test_a_new_setting_needs_only_its_field() -> None:
    class Extended(AppSettings):
        audit_log: str = Field(default="", description="Where calls are recorded, 100% of them.")
        trace: bool = Field(default=False, description="Trace.", json_schema_extra=flag(scope="all"))
        secret_only: str = Field(default="", description="Env only.", json_schema_extra=flag(hidden=True))

    p = argparse.ArgumentParser()
    add_flags(p, Extended, ("serve", "all"))
    args = p.parse_args(["--audit-log", "/tmp/a.jsonl", "--trace"])
    assert overrides(args, Extended) == {"audit_log": "/tmp/a.jsonl", "trace": True}
    assert "--secret-only" not in options(p)
    assert "[BAM_AUDIT_LOG]" in " ".join(p.format_help().split())


def test_collections_take_json_like_their_variable() -> None:
    class Odd(AppSettings):
        weights: dict[str, int] = Field(default_factory=dict, description="Weights per module.")

    p = argparse.ArgumentParser()
    add_flags(p, Odd, ("serve",))
    assert Odd(**overrides(p.parse_args(["--weights", '{"pg": 2}']), Odd)).weights == {"pg": 2}
    with pytest.raises(SystemExit):
        p.parse_args(["--weights", "pg=2"])
