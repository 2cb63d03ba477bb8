"""Redaction, JSON conversion and caps shared by every module."""

from __future__ import annotations

import datetime as dt
import decimal
import uuid

from servers._common.output import REDACTED, cap_items, redact, redact_env, redact_text, to_jsonable, truncate_text


def test_redact_masks_secret_keys_urls_and_inline_pairs() -> None:
    data = {
        "password": "hunter2",
        "DB_PASSWORD": "x",
        "api_key": "k",
        "AWS_SECRET_ACCESS_KEY": "s",
        "author": "alice",
        "token_count": 3,
        "nested": [{"url": "postgresql://bob:pw123@db:5432/app"}, "Authorization: Bearer abc.def"],
        "text": "connect with password=swordfish now",
    }
    out = redact(data)
    assert out["password"] == out["DB_PASSWORD"] == out["api_key"] == out["AWS_SECRET_ACCESS_KEY"] == REDACTED
    assert out["author"] == "alice" and out["token_count"] == 3
    assert out["nested"][0]["url"] == f"postgresql://bob:{REDACTED}@db:5432/app"
    assert "abc.def" not in out["nested"][1]
    assert "swordfish" not in out["text"]
    assert "pw123" not in redact_text("redis://:pw123@127.0.0.1:6379/0")


def test_redact_aggressive_masks_aws_secret_shaped_strings() -> None:
    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    assert secret not in redact(f"key is {secret}", aggressive=True)
    assert secret in redact(f"key is {secret}")


def test_redact_env_masks_only_secret_names() -> None:
    assert redact_env(["PATH=/bin", "DB_PASSWORD=x", "TOKEN=", "EMPTY"]) == [
        "PATH=/bin",
        f"DB_PASSWORD={REDACTED}",
        "TOKEN=",
        "EMPTY",
    ]


def test_to_jsonable_handles_driver_types() -> None:
    out = to_jsonable(
        {
            "d": decimal.Decimal("1.10"),
            "t": dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
            "td": dt.timedelta(days=1, hours=2, seconds=3.5),
            "u": uuid.UUID(int=1),
            "b": b"\x00\xff",
            "s": {1},
            "nan": float("nan"),
        }
    )
    assert out == {
        "d": "1.10",
        "t": "2024-01-02T03:04:05+00:00",
        "td": "P1DT2H3.5S",
        "u": "00000000-0000-0000-0000-000000000001",
        "b": {"base64": "AP8="},
        "s": [1],
        "nan": "nan",
    }


def test_caps() -> None:
    kept, cut = cap_items(range(10), max_items=3, max_bytes=1000)
    assert kept == [0, 1, 2] and cut
    texts, cut = cap_items(["x" * 100] * 5, max_items=10, max_bytes=250)
    assert len(texts) == 2 and cut
    kept, cut = cap_items([1, 2], max_items=5, max_bytes=100)
    assert kept == [1, 2] and not cut
    assert truncate_text("héllo world", 5, keep="head") == ("héll", True)
    assert truncate_text("abc", 10) == ("abc", False)
    assert truncate_text("abcdef", 3) == ("def", True)


def test_inline_secrets_with_prefixed_names() -> None:
    out = redact_text("DB_PASSWORD=x MY_API_KEY: abc PWD=/root token=t1")
    assert "DB_PASSWORD=***REDACTED***" in out and "abc" not in out and "t1" not in out
    assert "PWD=/root" in out  # a working directory is not a password


def test_operation_names_are_not_mistaken_for_secrets() -> None:
    text = "failed to call iam:CreateAccessKey: [ReadOnlyRefused] refused; GetSecretValue: [x] y"
    assert redact_text(text) == text


def test_redact_output_masks_token_formats_and_secret_assignments_in_free_text() -> None:
    from servers._common.output import looks_secret_value, redact_output

    text = (
        "DB_PASSWORD=hunter2 token: ghp_abcdefghijklmnopqrstuvwxyz0123456789 key=AKIAIOSFODNN7EXAMPLE "
        "jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.sig commit=3f2a9c1d7e"
    )
    out = redact_output(text)
    for secret in ("hunter2", "ghp_abcdefghij", "AKIAIOSFODNN7EXAMPLE", "eyJhbGciOiJIUzI1NiJ9"):
        assert secret not in out, secret
    assert "commit=3f2a9c1d7e" in out  # a short lower-case hash is not a secret
    assert looks_secret_value("aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY") and not looks_secret_value("hello-world")


def test_newest_lines_never_starts_inside_a_line() -> None:
    from servers._common.output import newest_lines

    text = "first line\nDB_PASSWORD=hunter2\nlast line\n"
    out, cut = newest_lines(text, len("WORD=hunter2\nlast line\n"))
    assert cut and out == "last line\n"  # the cut "...WORD=hunter2" line is dropped, not shown unredacted
    assert newest_lines("short", 100) == ("short", False)
