"""A directory of versioned SQL migrations: where it may be, what its files are, and what each statement does.

Two naming conventions are read: Flyway (`V1__name.sql`, `V1.1__name.sql`, undo `U1__name.sql`) and
golang-migrate (`0001_name.up.sql`, `0001_name.down.sql`). The directory must resolve (realpath, so `..` and
symlinks are followed first) inside `BAM_PG_MIGRATIONS_DIR` or one of `BAM_PG_MIGRATIONS_ROOTS`; files are
opened relative to it without following symlinks, must be regular files, and are size-capped.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from dataclasses import dataclass, field
from typing import Any

import orjson

from servers._common import tool_error
from servers.postgres.safety import check_write, parse_error, parse_sql_json
from servers.postgres.settings import PostgresSettings

MAX_FILE_BYTES = 1_000_000
MAX_FILES = 2_000
MAX_STATEMENTS = 500
_FLYWAY = re.compile(r"^([VU])(\d{1,18}(?:[._]\d{1,18}){0,5})__([A-Za-z0-9_\-. ]{1,120})\.sql$")
_GOLANG = re.compile(r"^(\d{1,18})_([A-Za-z0-9_\-.]{1,120})\.(up|down)\.sql$")
_DROPPED = ("OBJECT_TABLE", "OBJECT_VIEW", "OBJECT_MATVIEW", "OBJECT_INDEX", "OBJECT_FOREIGN_TABLE")
_SERIAL = {"serial", "bigserial", "smallserial", "serial2", "serial4", "serial8"}


@dataclass(frozen=True)
class Statement:
    kind: str
    text: str
    transactional: bool = True
    rehearse: str | None = None
    """What the rehearsal runs: the text itself, without CONCURRENTLY, or None (skipped, e.g. VACUUM)."""
    tree: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass
class Migration:
    version: str
    key: tuple[int, ...]
    name: str
    file: str
    checksum: str
    sql: str
    down_file: str | None = None
    down_sql: str | None = None


@dataclass
class Directory:
    path: str
    migrations: list[Migration]
    ignored: list[str]

    def by_version(self) -> dict[str, Migration]:
        return {m.version: m for m in self.migrations}


def _roots(s: PostgresSettings) -> list[str]:
    roots = [s.migrations_dir] if s.migrations_dir else []
    roots += [r for r in s.migrations_roots.split(os.pathsep) if r.strip()]
    return [os.path.realpath(r) for r in roots]


def resolve_directory(s: PostgresSettings, directory: str | None) -> str:
    """The real path of the migrations directory; refuse anything outside the allowed roots."""
    action = "find the migrations directory"
    roots = _roots(s)
    if not roots:
        raise tool_error(
            action,
            "no migrations directory is configured",
            hint="pass `sql` to plan a script, or set BAM_PG_MIGRATIONS_DIR on the server",
        )
    if directory is None:
        if not s.migrations_dir:
            raise tool_error(action, "no `directory` given and BAM_PG_MIGRATIONS_DIR is unset", hint="pass `directory`")
        target = s.migrations_dir
    else:
        if not directory.strip() or "\x00" in directory or len(directory) > 1024:
            raise tool_error(action, "`directory` must be a non-empty path without NUL bytes")
        target = directory if os.path.isabs(directory) else os.path.join(roots[0], directory)
    real = os.path.realpath(target)
    if not any(real == r or real.startswith(r.rstrip(os.sep) + os.sep) for r in roots):
        raise tool_error(
            action,
            "`directory` is outside the allowed migration roots",
            hint=f"use a directory inside {', '.join(roots)} (BAM_PG_MIGRATIONS_DIR / BAM_PG_MIGRATIONS_ROOTS)",
        )
    if not os.path.isdir(real):
        raise tool_error(action, f"{directory or target!r} is not a directory")
    return real


def _version(raw: str) -> tuple[tuple[int, ...], str]:
    parts = [int(p) for p in re.split(r"[._]", raw)]
    while len(parts) > 1 and parts[-1] == 0:  # 1.0 is version 1, as in Flyway
        parts.pop()
    return tuple(parts), ".".join(str(p) for p in parts)


def _read(dfd: int, name: str) -> bytes:
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=dfd)
    except OSError as exc:
        raise tool_error(
            "read the migrations", f"{name}: {exc.strerror}", hint="files must be regular files, not links"
        ) from exc
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise tool_error("read the migrations", f"{name} is not a regular file")
        data = os.read(fd, MAX_FILE_BYTES + 1)
    finally:
        os.close(fd)
    if len(data) > MAX_FILE_BYTES:
        raise tool_error("read the migrations", f"{name} is larger than {MAX_FILE_BYTES} bytes")
    return data


def _text(name: str, data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise tool_error("read the migrations", f"{name} is not UTF-8 text") from exc


def load_directory(s: PostgresSettings, directory: str | None) -> Directory:
    """Every migration of the directory in version order, with its checksum and down/undo file."""
    path = resolve_directory(s, directory)
    dfd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        if os.path.exists(f"/proc/self/fd/{dfd}") and os.readlink(f"/proc/self/fd/{dfd}") != path:
            raise tool_error("read the migrations", "the directory changed while it was opened")  # swapped for a link
        names = sorted(os.listdir(dfd))
        if len(names) > MAX_FILES:
            raise tool_error("read the migrations", f"more than {MAX_FILES} entries in the directory")
        ups: dict[tuple[int, ...], Migration] = {}
        downs: dict[tuple[int, ...], tuple[str, str]] = {}
        ignored: list[str] = []
        for name in names:
            fw, gm = _FLYWAY.match(name), _GOLANG.match(name)
            if fw:
                (key, version), label, up = _version(fw[2]), fw[3], fw[1] == "V"
            elif gm:
                (key, version), label, up = _version(gm[1]), gm[2], gm[3] == "up"
            else:
                ignored.append(name[:120])
                continue
            text = _text(name, data := _read(dfd, name))
            if not up:
                downs[key] = (name, text)
            elif key in ups:
                raise tool_error(
                    "read the migrations",
                    f"version {version} appears twice ({ups[key].file}, {name})",
                    hint="give every migration its own version",
                )
            else:
                ups[key] = Migration(version, key, label, name, hashlib.sha256(data).hexdigest(), text)
    finally:
        os.close(dfd)
    for key, (name, text) in downs.items():
        if key in ups:
            ups[key].down_file, ups[key].down_sql = name, text
        else:
            ignored.append(f"{name} (no matching up migration)")
    return Directory(path, [ups[k] for k in sorted(ups)], ignored)


def _strip_concurrently(text: str) -> str:
    from pglast.parser import scan

    raw = text.encode()
    for tok in scan(text):
        if tok.name == "CONCURRENTLY":
            return (raw[: tok.start] + raw[tok.end + 1 :]).decode()
    return text


def _classify(kind: str, body: dict[str, Any], text: str, label: str) -> Statement:
    concurrent = bool(body.get("concurrent")) or any(
        p.get("DefElem", {}).get("defname") == "concurrently" for p in body.get("params", []) or []
    )
    if kind in ("CreatedbStmt", "DropdbStmt", "CreateTableSpaceStmt", "DropTableSpaceStmt") or (
        kind == "ReindexStmt" and body.get("kind") in ("REINDEX_OBJECT_DATABASE", "REINDEX_OBJECT_SYSTEM")
    ):
        raise tool_error(
            "read the migrations",
            f"{label}: {kind.removesuffix('Stmt')} acts on the whole server and does not belong in a migration",
            hint="run it by hand",
        )
    if concurrent and kind in ("IndexStmt", "DropStmt"):
        return Statement(kind, text, False, _strip_concurrently(text))
    if concurrent and kind == "ReindexStmt":  # changes no schema: nothing to rehearse
        return Statement(kind, text, False, None)
    if kind == "AlterEnumStmt" and body.get("newVal"):  # outside a transaction, later statements can use the value
        return Statement(kind, text, False, text)
    if kind == "VacuumStmt" and body.get("is_vacuumcmd"):
        return Statement(kind, text, False, None)
    return Statement(kind, text, True, text)


def parse_migration(sql: str, label: str) -> list[Statement]:
    """The statements of one migration file; a BEGIN ... COMMIT wrapping the whole file is dropped."""
    try:
        tree = orjson.loads(parse_sql_json(sql))
    except parse_error() as exc:
        raise tool_error("read the migrations", f"{label}: syntax error: {exc.args[0] if exc.args else exc}") from exc
    stmts = tree.get("stmts", [])
    raw = sql.encode()
    kinds = [next(iter(st["stmt"])) for st in stmts]
    if len(stmts) >= 2 and kinds[0] == kinds[-1] == "TransactionStmt":
        first, last = stmts[0]["stmt"]["TransactionStmt"]["kind"], stmts[-1]["stmt"]["TransactionStmt"]["kind"]
        if first in ("TRANS_STMT_BEGIN", "TRANS_STMT_START") and last == "TRANS_STMT_COMMIT":
            stmts = stmts[1:-1]
    if len(stmts) > MAX_STATEMENTS:
        raise tool_error("read the migrations", f"{label}: more than {MAX_STATEMENTS} statements")
    out = []
    for st in stmts:
        start = st.get("stmt_location", 0)
        length = st.get("stmt_len", 0) or len(raw) - start
        text = raw[start : start + length].decode().strip()
        kind = next(iter(st["stmt"]))
        try:
            check_write(text)
        except Exception as exc:
            raise tool_error("read the migrations", f"{label}: {exc}") from exc
        s = _classify(kind, st["stmt"][kind], text, label)
        out.append(Statement(s.kind, s.text, s.transactional, s.rehearse, st["stmt"]))
    return out


def relation_names(tree: dict[str, Any]) -> list[tuple[str | None, str]]:
    """(schema, name) of every relation a statement names, including the objects of DROP TABLE/VIEW/INDEX."""
    out: list[tuple[str | None, str]] = []
    stack: list[Any] = [tree]
    while stack:
        cur = stack.pop()
        if isinstance(cur, dict):
            if isinstance(cur.get("relname"), str) and "relpersistence" in cur:
                out.append((cur.get("schemaname"), cur["relname"]))
            drop = cur.get("DropStmt")
            if isinstance(drop, dict) and drop.get("removeType") in _DROPPED:
                for obj in drop.get("objects", []):
                    parts = [i.get("String", {}).get("sval", "") for i in obj.get("List", {}).get("items", [])]
                    if 1 <= len(parts) <= 2:
                        out.append((parts[0] if len(parts) == 2 else None, parts[-1]))
            stack.extend(cur.values())
        elif isinstance(cur, list):
            stack.extend(cur)
    return list(dict.fromkeys(out))


@dataclass(frozen=True)
class Lint:
    """A lock-heavy pattern found in a statement; `check` needs the database to decide some of them."""

    check: str
    relation: tuple[str | None, str]
    detail: str = ""


def _default_functions(coldef: dict[str, Any]) -> list[str]:
    names = []
    type_names = [n.get("String", {}).get("sval", "") for n in coldef.get("typeName", {}).get("names", [])]
    if type_names and type_names[-1] in _SERIAL:
        names.append("nextval")
    for c in coldef.get("constraints", []) or []:
        con = c.get("Constraint", {})
        if con.get("contype") == "CONSTR_DEFAULT":
            stack: list[Any] = [con.get("raw_expr")]
            while stack:
                cur = stack.pop()
                if isinstance(cur, dict):
                    fn = cur.get("FuncCall")
                    if isinstance(fn, dict) and fn.get("funcname"):
                        names.append(str(fn["funcname"][-1].get("String", {}).get("sval", "")).lower())
                    stack.extend(cur.values())
                elif isinstance(cur, list):
                    stack.extend(cur)
    return names


def lint(tree: dict[str, Any]) -> list[Lint]:
    """CREATE INDEX without CONCURRENTLY, ADD COLUMN with a function default, ALTER COLUMN TYPE, SET NOT NULL,
    and FOREIGN KEY / CHECK without NOT VALID."""
    kind = next(iter(tree))
    body = tree[kind]
    rel = body.get("relation") or {}
    name = (rel.get("schemaname"), str(rel.get("relname", "")))
    if kind == "IndexStmt" and not body.get("concurrent"):
        return [Lint("index", name)]
    if kind != "AlterTableStmt":
        return []
    out = []
    for c in body.get("cmds", []):
        cmd = c.get("AlterTableCmd", {})
        sub, d = cmd.get("subtype"), cmd.get("def") or {}
        if sub == "AT_AddColumn" and (fns := _default_functions(d.get("ColumnDef", {}))):
            out.append(Lint("default", name, ",".join(fns)))
        elif sub == "AT_AlterColumnType":
            out.append(Lint("type", name, str(cmd.get("name"))))
        elif sub == "AT_SetNotNull":
            out.append(Lint("not_null", name, str(cmd.get("name"))))
        elif sub == "AT_AddConstraint":
            con = d.get("Constraint", {})
            if con.get("contype") in ("CONSTR_FOREIGN", "CONSTR_CHECK") and not con.get("skip_validation"):
                out.append(Lint("fk" if con["contype"] == "CONSTR_FOREIGN" else "check", name))
    return out
