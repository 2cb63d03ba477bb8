"""Stop a running exec: the engine has no API for it, so its process group is killed.

`exec_inspect` gives the exec's process id as the engine's host sees it. The engine starts every exec in
a session of its own, so the process is the leader of a group that holds the command and its children.
When this server shares the engine's host and PID namespace (a local unix socket or loopback TCP), the
group is killed directly, after checking that the process is still that exec (it belongs to the
container's cgroup and leads its group: a recycled pid is never signalled). When signalling is not
permitted (a rootless server next to a rootful engine), a second exec runs `kill` inside the container
on the group's in-container pid. A remote engine whose host processes are not visible cannot be reached
this way: the note says the command may still be running.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
from typing import Any

from servers.docker.client import Docker

log = logging.getLogger("backend_architect_mcp.docker")

KILLED = "the command was killed"
NOT_STOPPED = "the command may still be running in the container (its process could not be signalled from here)"


def _proc_text(pid: int, name: str) -> str:
    with open(f"/proc/{pid}/{name}", errors="replace") as f:
        return f.read()


def _is_group_of(pid: int, container_id: str) -> bool:
    """Whether host process `pid` is in `container_id`'s cgroup and leads its process group."""
    try:
        cgroup = _proc_text(pid, "cgroup")
        stat = _proc_text(pid, "stat")
    except OSError:
        return False
    fields = stat[stat.rfind(")") + 2 :].split()  # after "pid (comm) ": state ppid pgrp ...
    return container_id in cgroup and len(fields) > 2 and fields[2] == str(pid)


def _ns_pid(pid: int) -> int | None:
    """The process's pid inside the container (the last NSpid field)."""
    with contextlib.suppress(OSError, ValueError):
        for line in _proc_text(pid, "status").splitlines():
            if line.startswith("NSpid:"):
                return int(line.split()[-1])
    return None


def _kill_group(pid: int, container_id: str) -> bool | None:
    """True when killed, False when not permitted, None when the process is not visible (or is gone)."""
    if not _is_group_of(pid, container_id):
        return None
    try:
        os.killpg(pid, signal.SIGKILL)
    except PermissionError:
        return False
    except ProcessLookupError:
        return None
    return True


async def stop_exec(d: Docker, api: Any, exec_id: str, container: str) -> str:
    """Kill a running exec's command; returns the note for the caller (never raises)."""
    try:
        info = await d.call("inspect the exec", api.exec_inspect, exec_id)
        if not info.get("Running"):
            return "it has ended since"
        pid, cid = int(info.get("Pid") or 0), str(info.get("ContainerID") or "")
        if pid <= 0 or not cid:
            return NOT_STOPPED
        killed = _kill_group(pid, cid) if d.settings.engine_is_local() else None
        if killed is False and (ns := _ns_pid(pid)):
            kill = await d.call("create the kill exec", api.exec_create, container, ["kill", "-KILL", f"-{ns}"])
            await d.call("kill the command", api.exec_start, kill["Id"])
            killed = True
        if killed:
            return KILLED
    except Exception as exc:  # stopping is best effort; the caller gets the note either way
        log.warning("could not stop exec %s: %s", exec_id[:12], type(exc).__name__)
    return NOT_STOPPED
