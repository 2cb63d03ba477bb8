"""Install each peer MCP server into its own throwaway environment under bench/peers/.venvs/<key>.

PyPI peers get a venv (a Python >= the peer's minimum, found on PATH or under pyenv); npm peers get an
`npm install --prefix`. A marker file records the installed version and how the install went, so a second
run reuses it. A peer that cannot be installed raises `PeerUnavailable` with the command and the error line.
"""

from __future__ import annotations

import glob
import json
import os
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

VENVS = Path(__file__).parent / ".venvs"
MARKER = ".bam-peer.json"


class PeerUnavailable(Exception):
    """The peer could not be installed or started; `str()` is the note for the results table."""


@dataclass(frozen=True)
class Peer:
    key: str
    label: str
    kind: str  # "pypi" | "npm"
    package: str
    min_python: tuple[int, int] = (3, 10)
    # pip argument lists tried in order after the plain `pip install <package>` failed (recorded as a note)
    fallback: tuple[tuple[str, ...], ...] = ()
    remark: str = ""  # why the fallback looks the way it does


@dataclass
class Installed:
    peer: Peer
    path: Path
    version: str
    notes: list[str] = field(default_factory=list)

    def bin(self, name: str) -> str:
        if self.peer.kind == "npm":
            return str(self.path / "node_modules" / ".bin" / name)
        return str(self.path / "bin" / name)

    def npm_file(self, *parts: str) -> str:
        return str(self.path / "node_modules" / self.peer.package / Path(*parts))


def _last_error(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("WARNING: Location")]
    errors = [ln for ln in lines if ln.startswith(("ERROR", "npm error", "npm ERR"))]
    return (errors or lines[-1:] or ["(no output)"])[0]


def _run(cmd: list[str], log: Path) -> tuple[int, str]:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900, check=False)
    out = proc.stdout + proc.stderr
    with log.open("a") as f:
        f.write(f"$ {shlex.join(cmd)}\n{out}\nrc={proc.returncode}\n")
    return proc.returncode, out


def find_python(minimum: tuple[int, int]) -> str:
    """This interpreter if new enough, else a working python3.X >= `minimum` from ~/.pyenv or PATH."""
    if sys.version_info[:2] >= minimum:
        return sys.executable
    candidates: list[str] = []
    for minor in range(minimum[1], 16):
        candidates += sorted(glob.glob(os.path.expanduser(f"~/.pyenv/versions/{minimum[0]}.{minor}.*/bin/python")))
        exe = shutil.which(f"python{minimum[0]}.{minor}")
        if exe:
            candidates.append(exe)
    for exe in candidates:
        probe = subprocess.run([exe, "-c", "import venv"], capture_output=True, check=False)
        if probe.returncode == 0:  # pyenv shims exist for versions that are not enabled: skip those
            return exe
    raise PeerUnavailable(f"needs Python >= {minimum[0]}.{minimum[1]}; none found on PATH or under ~/.pyenv")


def _version(peer: Peer, path: Path) -> str:
    if peer.kind == "npm":
        meta = json.loads((path / "node_modules" / peer.package / "package.json").read_text())
        return str(meta["version"])
    code = f"import importlib.metadata as m; print(m.version({peer.package!r}))"
    out = subprocess.run([str(path / "bin" / "python"), "-c", code], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def install(peer: Peer) -> Installed:
    """Install `peer` (once) and return where it is; raise PeerUnavailable with the failing command."""
    path = VENVS / peer.key
    marker = path / MARKER
    if marker.exists():
        data = json.loads(marker.read_text())
        return Installed(peer, path, data["version"], list(data.get("notes", [])))
    VENVS.mkdir(parents=True, exist_ok=True)
    log = VENVS / f"{peer.key}.install.log"
    log.write_text("")
    notes: list[str] = []
    try:
        if peer.kind == "npm":
            path.mkdir(parents=True, exist_ok=True)
            cmd = ["npm", "install", "--prefix", str(path), "--no-audit", "--no-fund", peer.package]
            rc, out = _run(cmd, log)
            if rc:
                raise PeerUnavailable(f"`npm install {peer.package}` failed: {_last_error(out)}")
        else:
            python = find_python(peer.min_python)
            rc, out = _run([python, "-m", "venv", "--clear", str(path)], log)
            if rc:
                raise PeerUnavailable(f"`python -m venv` failed: {_last_error(out)}")
            pip = [str(path / "bin" / "python"), "-m", "pip", "install", "-q"]
            rc, out = _run([*pip, peer.package], log)
            if rc:
                failure = f"`pip install {peer.package}` failed: {_last_error(out)}"
                if not peer.fallback:
                    raise PeerUnavailable(failure)
                notes.append(failure)
                for args in peer.fallback:
                    rc, out = _run([*pip, *args], log)
                    if rc:
                        raise PeerUnavailable(
                            f"{failure}; fallback `pip install {shlex.join(args)}` failed too: {_last_error(out)}"
                        )
                notes.append(
                    "installed instead with " + "; ".join(f"`pip install {shlex.join(a)}`" for a in peer.fallback)
                )
                if peer.remark:
                    notes.append(peer.remark)
        version = _version(peer, path)
    except subprocess.CalledProcessError as exc:
        raise PeerUnavailable(f"installed, but reading its version failed: {_last_error(exc.stderr or '')}") from exc
    marker.write_text(json.dumps({"version": version, "notes": notes}))
    return Installed(peer, path, version, notes)
