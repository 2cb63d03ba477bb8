"""The migrations directory is confined to its allowed roots, and its files are read defensively: generated
path-like inputs (traversal, symlinks, NUL, absolute paths) never resolve outside a root; links, FIFOs, huge,
duplicate and non-UTF-8 files are refused; statements that do not belong in a migration are refused."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mcp.server.mcpserver.exceptions import ToolError

from servers.postgres.migration_files import MAX_FILE_BYTES, load_directory, parse_migration, resolve_directory
from servers.postgres.settings import PostgresSettings


@pytest.fixture(scope="module")
def tree() -> Iterator[Path]:
    """root/migs (allowed) with sub/ and a symlink escape -> root/outside; root/outside holds a .sql file."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "migs" / "sub").mkdir(parents=True)
        (root / "outside").mkdir()
        (root / "outside" / "V1__evil.sql").write_text("DROP TABLE everything;")
        (root / "migs" / "escape").symlink_to(root / "outside")
        (root / "migs-sibling").mkdir()
        yield root


def s_for(root: Path) -> PostgresSettings:
    return PostgresSettings(migrations_dir=str(root / "migs"), migrations_roots="")


def inside(path: str, root: Path) -> bool:
    allowed = os.path.realpath(root / "migs")
    return path == allowed or path.startswith(allowed + os.sep)


PARTS = st.sampled_from(
    ["..", ".", "sub", "escape", "outside", "migs", "migs-sibling", "", "~", "%2e%2e", "..\\..", "\x00", " ", "//"]
)


@settings(max_examples=400, deadline=None)
@given(parts=st.lists(PARTS, max_size=6), absolute=st.sampled_from(["", "/", "root"]))
def test_generated_paths_never_resolve_outside_the_roots(tree: Path, parts: list[str], absolute: str) -> None:
    prefix = {"": "", "/": "/", "root": str(tree) + "/"}[absolute]
    candidate = prefix + "/".join(parts)
    try:
        got = resolve_directory(s_for(tree), candidate)
    except ToolError:
        return
    assert inside(got, tree), (candidate, got)


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=300))
def test_arbitrary_text_is_refused_or_confined(tree: Path, text: str) -> None:
    try:
        got = resolve_directory(s_for(tree), text)
    except ToolError:
        return
    assert inside(got, tree)


def test_named_escapes_are_refused(tree: Path) -> None:
    s = s_for(tree)
    for bad in [
        "..",
        "../outside",
        "escape",
        "sub/../../outside",
        str(tree / "outside"),
        "/etc",
        "/",
        "a\x00b",
        "x" * 2000,
        str(tree / "migs-sibling"),
    ]:
        with pytest.raises(ToolError):
            resolve_directory(s, bad)
    assert resolve_directory(s, "sub") == os.path.realpath(tree / "migs" / "sub")
    assert resolve_directory(s, None) == os.path.realpath(tree / "migs")
    with pytest.raises(ToolError, match="no migrations directory is configured"):
        resolve_directory(PostgresSettings(migrations_dir=None, migrations_roots=""), "sub")


def test_extra_roots_admit_their_own_directories_only(tree: Path) -> None:
    s = PostgresSettings(migrations_dir=None, migrations_roots=str(tree / "outside"))
    assert resolve_directory(s, str(tree / "outside")) == os.path.realpath(tree / "outside")
    with pytest.raises(ToolError, match="BAM_PG_MIGRATIONS_DIR is unset"):
        resolve_directory(s, None)
    with pytest.raises(ToolError, match="outside the allowed"):
        resolve_directory(s, str(tree / "migs"))


def test_links_fifos_huge_duplicate_and_binary_files_are_refused(tmp_path: Path) -> None:
    s = PostgresSettings(migrations_dir=str(tmp_path), migrations_roots="")
    outside = tmp_path.parent / f"{tmp_path.name}-secret.sql"
    outside.write_text("SELECT 1;")
    cases: dict[str, Callable[[], object]] = {
        "link": lambda: (tmp_path / "V1__link.sql").symlink_to(outside),
        "fifo": lambda: os.mkfifo(tmp_path / "V1__fifo.sql"),
        "huge": lambda: (tmp_path / "V1__huge.sql").write_bytes(b"-" * (MAX_FILE_BYTES + 1)),
        "binary": lambda: (tmp_path / "V1__bin.sql").write_bytes(b"\xff\xfe\x00"),
        "duplicate": lambda: [
            (tmp_path / "V1__a.sql").write_text("SELECT 1;"),
            (tmp_path / "V1.0__b.sql").write_text("SELECT 1;"),
        ],
    }
    for name, make in cases.items():
        for f in tmp_path.iterdir():
            f.unlink()
        make()
        with pytest.raises(ToolError):
            load_directory(s, None)
            pytest.fail(name)
    outside.unlink()


def test_conventions_versions_and_orphans(tmp_path: Path) -> None:
    s = PostgresSettings(migrations_dir=str(tmp_path), migrations_roots="")
    for name in [
        "V1_1__b.sql",
        "V1__a.sql",
        "U1__a.sql",
        "V10__c.sql",
        "0002_x.up.sql",
        "0003_y.down.sql",
        "R__view.sql",
    ]:
        (tmp_path / name).write_text("SELECT 1;")
    d = load_directory(s, None)
    assert [(m.version, m.file) for m in d.migrations] == [
        ("1", "V1__a.sql"),
        ("1.1", "V1_1__b.sql"),
        ("2", "0002_x.up.sql"),
        ("10", "V10__c.sql"),
    ]
    assert d.migrations[0].down_file == "U1__a.sql" and d.migrations[1].down_file is None
    assert sorted(d.ignored) == ["0003_y.down.sql (no matching up migration)", "R__view.sql"]


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("COPY t TO PROGRAM 'id'", "COPY to or from a server file or program"),
        ("CREATE DATABASE x", "does not belong in a migration"),
        ("REINDEX DATABASE x", "does not belong in a migration"),
        ("ALTER SYSTEM SET work_mem = '1GB'", "changes the server itself"),
        ("CREATE TABLE a (id int); COMMIT; CREATE TABLE b (id int)", "transaction control"),
        ("SELECT pg_terminate_backend(1)", "pg_terminate_backend"),
        ("CREATE TABLE (", "syntax error"),
    ],
)
def test_statements_that_do_not_belong_in_a_migration_are_refused(sql: str, expected: str) -> None:
    with pytest.raises(ToolError, match=expected):
        parse_migration(sql, "V9__x.sql")


def test_statement_classes() -> None:
    stmts = parse_migration(
        "BEGIN;\nCREATE /* CONCURRENTLY */ INDEX CONCURRENTLY i ON t (a);\nVACUUM t;\nALTER TABLE t ADD c int;\n"
        "ALTER TYPE e ADD VALUE 'x';\nREINDEX (CONCURRENTLY) INDEX i;\nCOMMIT;",
        "V1__x.sql",
    )
    assert [(s.kind, s.transactional) for s in stmts] == [
        ("IndexStmt", False),
        ("VacuumStmt", False),
        ("AlterTableStmt", True),
        ("AlterEnumStmt", False),
        ("ReindexStmt", False),
    ]
    assert stmts[0].rehearse == "CREATE /* CONCURRENTLY */ INDEX  i ON t (a)" and stmts[1].rehearse is None
    assert stmts[3].rehearse == stmts[3].text  # ADD VALUE can be rehearsed in the transaction
    assert stmts[4].rehearse is None
