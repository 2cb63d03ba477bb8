"""Escape corpus against the real engine, writes allowed: host paths, namespaces, run options, file contents.

A temporary tree holds an allowed root (BAM_DOCKER_BIND_ROOTS and BAM_DOCKER_BUILD_ROOTS) with symlinks
out of it (to `/`, `/etc`, `/proc/self/root`, the Docker socket, a sibling directory holding a canary
file), a symlink loop, a dangling link and a directory with a unix socket. Every path-taking argument of
every tool gets hand-picked and Hypothesis-generated path-like strings; each attempt must be refused with
a clear error or be harmless (whatever reached the engine lies inside the allowed root), and the canary
never appears in any output. Legitimate binds, bind volumes and builds inside the root still work.
"""

from __future__ import annotations

import base64
import contextlib
import os
import socket
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument
from mcp import Client
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult

from servers.docker import build_server
from servers.docker.safety import SYSTEM_TREES, HostPathPolicy, resolve_host_path
from servers.docker.settings import DockerSettings
from tests.conftest import error_text, ok
from tests.servers.docker.conftest import WRITES

pytestmark = pytest.mark.anyio

SLOW = settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)


@dataclass
class Tree:
    base: Path
    allowed: Path
    outside: Path
    canary: str
    image: str

    def leaks(self, text: str) -> bool:
        """Whether `text` holds the canary, raw or base64-encoded (any alignment)."""
        raw = self.canary.encode()
        encoded = [base64.b64encode(b"x" * i + raw).decode()[4:-4] for i in range(3)]
        return self.canary in text or self.canary.lower() in text.lower() or any(e in text for e in encoded)


@pytest.fixture
def tree(tmp_path: Path, image: str, uid: str) -> Iterator[Tree]:
    base = Path(os.path.realpath(tmp_path))
    allowed, outside = base / "allowed", base / "outside"
    allowed.mkdir()
    outside.mkdir()
    canary = f"CANARY-{uuid.uuid4().hex}"
    (outside / "secret.txt").write_text(canary + "\n")
    (allowed / "data.txt").write_text("legit data\n")
    (allowed / "notes.txt").write_text(f"{canary} is written here\n")  # inside the root: still never echoed
    (allowed / "sub").mkdir()
    (allowed / "Dockerfile").write_text(f"FROM {image}\nCOPY data.txt /data.txt\n")
    links = {
        "to_root": "/",
        "to_etc": "/etc",
        "to_outside": "../outside",
        "to_secret": "../outside/secret.txt",
        "to_proc_root": "/proc/self/root",
        "to_sock": "/var/run/docker.sock",
        "to_run": "/run/docker",
        "up": "..",
        "loop": "loop",
        "dangling": "/nonexistent-bam-escape",
    }
    for name, target in links.items():
        os.symlink(target, allowed / name)
    (allowed / "sockdir").mkdir()
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(allowed / "sockdir" / "app.sock"))
    etc_canary = Path(f"/etc/bam-canary-{uid}")
    seeded = False
    with contextlib.suppress(OSError):  # a canary in a system tree too, when the test may write there
        etc_canary.write_text(canary + "\n")
        seeded = True
    try:
        yield Tree(base, allowed, outside, canary, image)
    finally:
        sock.close()
        if seeded:
            etc_canary.unlink()


@pytest.fixture
async def esc(monkeypatch: pytest.MonkeyPatch, tree: Tree, cleanup: None) -> AsyncIterator[Client]:
    """Writes allowed; the tree's `allowed` directory is the only bind and build root."""
    monkeypatch.setenv("BAM_DOCKER_BIND_ROOTS", str(tree.allowed))
    monkeypatch.setenv("BAM_DOCKER_BUILD_ROOTS", str(tree.allowed))
    async with Client(build_server(policy=WRITES)) as c:
        yield c


def texts(result: CallToolResult) -> str:
    return " ".join(getattr(c, "text", "") for c in result.content) + str(result.structured_content or "")


def note(what: str) -> None:
    """A Hypothesis event (shown with --hypothesis-show-statistics), when running under Hypothesis."""
    with contextlib.suppress(InvalidArgument):
        event(what)


def inside(path: str, root: Path) -> bool:
    real = os.path.realpath(path)
    return real == str(root) or real.startswith(f"{root}/")


def check_refused_or_harmless(result: CallToolResult, tree: Tree) -> bool:
    """The attempt was refused with a clear error (True), or went through (False); never a canary leak."""
    text = texts(result)
    assert not tree.leaks(text), text
    if result.is_error:
        assert "refused" in text or "[invalid]" in text or "validation error" in text.lower(), text
        return True
    return False


# ----------------------------------------------------------------------------------------- the corpus

HAND_PICKED = [
    "/",
    "//",
    "///",
    "/.",
    "/..",
    "/../../..",
    "/etc",
    "/etc/",
    "/etc/../",
    "/./etc",
    "//etc//",
    "/etc/passwd",
    "/etc/shadow",
    "/root",
    "/boot",
    "/proc",
    "/proc/self/root",
    "/proc/1/root",
    "/proc/self/root/etc",
    "/sys",
    "/sys/fs/cgroup",
    "/dev",
    "/dev/sda",
    "/dev/null",
    "/var",
    "/var/lib",
    "/var/lib/docker",
    "/var/lib/containerd",
    "/var/run",
    "/var/run/docker.sock",
    "/run",
    "/run/docker",
    "/run/docker.sock",
    "/run/containerd/containerd.sock",
    "/usr",
    "/home",
    "/tmp/../etc",
    "",
    ".",
    "..",
    "./",
    "../../../../",
    "etc",
    "relative/dir",
    "~",
    "~/.docker",
    "$HOME",
    "/ｅｔｃ",
    "/etc\u200b",
    "/etc\x00",
    "/tmp\x00/etc",
    "/etc\n",
    "/" + "a" * 5000,
    "/" + "a/" * 3000,
    "@A/../outside",
    "@A/../outside/secret.txt",
    "@A//..//outside",
    "@A/./../allowed/../outside",
    "@A/to_root",
    "@A/to_root/",
    "@A/to_root/etc",
    "@A/to_etc",
    "@A/to_etc/",
    "@A/to_outside",
    "@A/to_secret",
    "@A/to_proc_root",
    "@A/to_proc_root/etc",
    "@A/to_sock",
    "@A/to_run",
    "@A/up",
    "@A/up/outside",
    "@A/loop",
    "@A/loop/",
    "@A/dangling",
    "@A/sockdir",
    "@A/sockdir/app.sock",
    "@A/missing",
    "@A/data.txt\x00",
    "@B",
    "@B/outside",
    "@A\x00/../outside",
]

SEGMENTS = st.sampled_from(
    [
        "..",
        ".",
        "",
        "etc",
        "proc",
        "self",
        "root",
        "sys",
        "dev",
        "run",
        "docker.sock",
        "var",
        "lib",
        "docker",
        "to_root",
        "to_etc",
        "to_outside",
        "to_secret",
        "to_proc_root",
        "to_sock",
        "to_run",
        "loop",
        "dangling",
        "up",
        "sub",
        "data.txt",
        "sockdir",
        "outside",
        "allowed",
        "secret.txt",
        "ｅｔｃ",
        "é",
        "\x00",
        "\n",
        " ",
        "~",
        "%2e%2e",
        "..\\..",
        "a" * 300,
    ]
)
PATHS = st.one_of(
    st.builds(
        lambda pre, segs, tail: pre + "/".join(segs) + tail,
        st.sampled_from(["", "/", "//", "@A/", "@A", "@B/", "./", "../", "@A/sub/"]),
        st.lists(st.one_of(SEGMENTS, st.text(min_size=1, max_size=6)), max_size=8),
        st.sampled_from(["", "/", "//", "/.", "/.."]),
    ),
    st.text(max_size=40),
    st.builds(  # mostly inside the root: the accepted side must stay inside it too
        lambda segs, tail: "@A/sub/" + "/".join(segs) + tail,
        st.lists(st.sampled_from(["", ".", "..", "sub", "../sub", "../up/allowed/sub", "../to_outside"]), max_size=4),
        st.sampled_from(["", "/", "/."]),
    ),
)


def concrete(path: str, tree: Tree) -> str:
    return path.replace("@A", str(tree.allowed)).replace("@B", str(tree.base))


# --------------------------------------------------------------------------- the one check, by itself


@settings(max_examples=300, deadline=None)
@given(path=st.one_of(st.sampled_from(HAND_PICKED), PATHS))
def test_resolve_host_path_property(path: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Whatever the string, the check refuses it or returns a real path inside the root, never a system one."""
    base = _property_tree(tmp_path_factory)
    allowed = base / "allowed"
    s = DockerSettings(bind_roots=str(allowed), build_roots=str(allowed))
    for kind in ("bind", "context"):
        policy = HostPathPolicy.of(s, kind)
        try:
            real = resolve_host_path("check", path.replace("@A", str(allowed)).replace("@B", str(base)), kind, policy)
        except ToolError as exc:
            assert "refused" in str(exc) and PROPERTY_CANARY not in str(exc)
            continue
        assert real == os.path.realpath(real) and inside(real, allowed)
        assert not any(real == t or real.startswith(t + "/") for t in SYSTEM_TREES)


_PROPERTY_TREE: dict[str, Path] = {}
PROPERTY_CANARY = f"PROPCANARY-{uuid.uuid4().hex}"


def _property_tree(factory: pytest.TempPathFactory) -> Path:
    if "base" not in _PROPERTY_TREE:
        base = Path(os.path.realpath(factory.mktemp("escape-property")))
        (base / "allowed" / "sub").mkdir(parents=True)
        (base / "outside").mkdir()
        (base / "outside" / "secret.txt").write_text(PROPERTY_CANARY + "\n")
        for name, target in {"to_root": "/", "to_etc": "/etc", "to_outside": "../outside", "up": "..",
                             "loop": "loop", "to_proc_root": "/proc/self/root", "to_sock": "/var/run/docker.sock",
                             "to_secret": "../outside/secret.txt"}.items():  # fmt: skip
            os.symlink(target, base / "allowed" / name)
        _PROPERTY_TREE["base"] = base
    return _PROPERTY_TREE["base"]


# ------------------------------------------------------------------------------ every path argument


async def _bind_attempt(c: Client, sdk: Any, tree: Tree, uid: str, path: str) -> None:
    """A bind mount of `path` that reads through it: refused, or mounted from inside the root only."""
    r = await c.call_tool(
        "docker_container_run",
        {
            "image": tree.image,
            "command": ["sh", "-c", "cat /m /m/* /m/etc/passwd /m/outside/secret.txt 2>&1 | head -c 4000"],
            "network_mode": "none",
            "labels": {"bam-test": uid, "bam-escape": "bind"},
            "mounts": [{"type": "bind", "source": concrete(path, tree), "target": "/m", "read_only": True}],
            "wait_s": 20,
        },
    )
    if check_refused_or_harmless(r, tree):
        note("bind refused")
        return
    note("bind accepted (inside the root)")
    made = sdk.api.containers(all=True, filters={"label": [f"bam-test={uid}", "bam-escape=bind"]})
    assert made, "the run succeeded but no container is there"
    for c_ in made:
        mounts = sdk.api.inspect_container(c_["Id"])["Mounts"]
        sdk.api.remove_container(c_["Id"], force=True)
        for m in mounts:
            assert m["Type"] != "bind" or inside(m["Source"], tree.allowed), m


async def _volume_attempt(c: Client, sdk: Any, tree: Tree, uid: str, path: str, opts: dict[str, str]) -> None:
    name = f"{uid}-v{uuid.uuid4().hex[:6]}"
    driver_opts = {k: concrete(v.replace("@P", path), tree) for k, v in opts.items()}
    r = await c.call_tool(
        "docker_volume_create", {"name": name, "driver_opts": driver_opts, "labels": {"bam-test": uid}}
    )
    if check_refused_or_harmless(r, tree):
        assert not (sdk.api.volumes(filters={"name": name}) or {}).get("Volumes")
        return
    device = sdk.api.inspect_volume(name)["Options"].get("device", "")
    sdk.api.remove_volume(name, force=True)
    assert inside(device, tree.allowed), device


async def _build_attempt(c: Client, tree: Tree, uid: str, **args: Any) -> None:
    r = await c.call_tool(
        "docker_image_build", {"tag": f"{uid}:esc", "network_mode": "none", "labels": {"bam-test": uid}, **args}
    )
    check_refused_or_harmless(r, tree)


VOLUME_OPTS = [
    {"type": "none", "o": "bind", "device": "@P"},
    {"o": "bind,ro", "device": "@P"},
    {"type": "tmpfs", "o": "rbind", "device": "@P"},
    {"type": "ext4", "device": "@P"},
    {"type": "overlay", "o": "lowerdir=@P,upperdir=@A/sub,workdir=@A/sub", "device": "overlay"},
    {"type": "none", "device": "@P"},
]


@pytest.mark.parametrize("path", HAND_PICKED)
async def test_hand_picked_paths_every_argument(esc: Client, sdk: Any, tree: Tree, uid: str, path: str) -> None:
    await _bind_attempt(esc, sdk, tree, uid, path)
    for opts in VOLUME_OPTS:
        await _volume_attempt(esc, sdk, tree, uid, path, opts)
    await _build_attempt(esc, tree, uid, context_dir=concrete(path, tree), dockerfile=f"FROM {tree.image}\n")
    await _build_attempt(esc, tree, uid, context_dir=str(tree.allowed), dockerfile_path=concrete(path, tree))
    rel = path.replace("@A/", "").replace("@A", ".")
    await _build_attempt(esc, tree, uid, context_dir=str(tree.allowed), dockerfile_path=rel)


@SLOW
@given(path=PATHS)
async def test_generated_paths_every_argument(esc: Client, sdk: Any, tree: Tree, uid: str, path: str) -> None:
    await _bind_attempt(esc, sdk, tree, uid, path)
    await _volume_attempt(esc, sdk, tree, uid, path, VOLUME_OPTS[0])
    await _volume_attempt(esc, sdk, tree, uid, path, VOLUME_OPTS[3])
    await _build_attempt(esc, tree, uid, context_dir=concrete(path, tree), dockerfile=f"FROM {tree.image}\n")
    await _build_attempt(esc, tree, uid, context_dir=str(tree.allowed), dockerfile_path=concrete(path, tree))


@SLOW
@given(name=st.one_of(st.sampled_from(["../x", "a/../../b", "..", "/etc", "x?y", "x#y", "%2e%2e"]), PATHS))
async def test_generated_names_stay_names(esc: Client, sdk: Any, tree: Tree, uid: str, name: str) -> None:
    """Volume sources and object references are names by the engine's rules, never host paths or URL paths."""
    r = await esc.call_tool(
        "docker_container_run",
        {
            "image": tree.image,
            "command": ["true"],
            "network_mode": "none",
            "labels": {"bam-test": uid},
            "mounts": [{"type": "volume", "source": concrete(name, tree), "target": "/m"}],
        },
    )
    if not check_refused_or_harmless(r, tree):
        for c_ in sdk.api.containers(all=True, filters={"label": [f"bam-test={uid}"]}):
            assert all(m["Type"] == "volume" for m in sdk.api.inspect_container(c_["Id"])["Mounts"])
    for tool, arg in (
        ("docker_container_inspect", "container"),
        ("docker_volume_inspect", "name"),
        ("docker_network_inspect", "network"),
        ("docker_image_inspect", "image"),
        ("docker_container_logs", "container"),
    ):
        res = await esc.call_tool(tool, {arg: concrete(name, tree)})
        assert not tree.leaks(texts(res))
        if name.startswith(("../", "/")) or "/../" in name:
            assert res.is_error


async def test_names_the_engine_would_refuse_are_refused_first(esc: Client, sdk: Any, tree: Tree, uid: str) -> None:
    """A name the engine cannot give (one character, found by Hypothesis: `volume name is too short`) is
    refused by its own rule before any call, for a mount's volume, a container and a new volume."""
    attempts: list[tuple[str, dict[str, Any]]] = [
        ("docker_container_run", {"image": tree.image, "mounts": [{"type": "volume", "source": "0", "target": "/m"}]}),
        ("docker_container_run", {"image": tree.image, "name": "x"}),
        ("docker_volume_create", {"name": "v"}),
    ]
    for tool, args in attempts:
        r = await esc.call_tool(tool, {**args, "labels": {"bam-test": uid}})
        text = texts(r)
        assert r.is_error and ("[invalid]" in text or "validation error" in text.lower()), text
        assert "APIError" not in text, text
    assert not sdk.api.containers(all=True, filters={"label": [f"bam-test={uid}"]})
    assert not sdk.api.volumes(filters={"label": f"bam-test={uid}"}).get("Volumes")


async def test_named_volume_that_binds_is_checked_at_run(esc: Client, sdk: Any, tree: Tree, uid: str) -> None:
    """A volume created behind the server's back with a bind device cannot smuggle a host path into a run."""
    for device in ("/etc", ".", str(tree.outside), f"{tree.allowed}/to_root"):
        name = f"{uid}-ext{uuid.uuid4().hex[:4]}"
        sdk.api.create_volume(
            name, driver="local", driver_opts={"type": "none", "o": "bind", "device": device}, labels={"bam-test": uid}
        )
        r = await esc.call_tool(
            "docker_container_run",
            {
                "image": tree.image,
                "command": ["cat", "/m/passwd", "/m/secret.txt"],
                "network_mode": "none",
                "labels": {"bam-test": uid},
                "mounts": [{"type": "volume", "source": name, "target": "/m"}],
                "wait_s": 20,
            },
        )
        assert check_refused_or_harmless(r, tree), device
        assert "refused" in error_text(r)


async def test_canary_never_in_any_output(esc: Client, tree: Tree, uid: str) -> None:
    """Build attempts that would make the engine read the canary as a Dockerfile: no content in any error."""
    for df in ("../outside/secret.txt", "to_secret", "up/outside/secret.txt", "notes.txt", str(tree.outside)):
        r = await esc.call_tool(
            "docker_image_build",
            {"tag": f"{uid}:c", "context_dir": str(tree.allowed), "dockerfile_path": df, "labels": {"bam-test": uid}},
        )
        text = error_text(r)
        assert not tree.leaks(text), text
    for src in (
        "to_secret",
        "to_outside/secret.txt",
        "up/outside/secret.txt",
        f"to_etc/bam-canary-{uid}",
        "to_root/etc",
    ):
        # symlinks travel in the context archive as symlinks: the builder resolves them inside the context
        df = f"FROM {tree.image}\nCOPY {src} /stolen\nRUN cat /stolen /stolen/* || true\n"
        r = await esc.call_tool(
            "docker_image_build",
            {"tag": f"{uid}:s", "context_dir": str(tree.allowed), "dockerfile": df, "labels": {"bam-test": uid}},
        )
        assert not tree.leaks(texts(r)), src
        if not r.is_error:
            run = await esc.call_tool(
                "docker_container_run",
                {
                    "image": f"{uid}:s",
                    "command": ["sh", "-c", "cat /stolen /stolen/* 2>&1"],
                    "network_mode": "none",
                    "labels": {"bam-test": uid},
                    "wait_s": 20,
                    "remove": True,
                },
            )
            assert not tree.leaks(texts(run)), src
    if Path(f"/etc/bam-canary-{uid}").exists():
        r = await esc.call_tool(
            "docker_image_build",
            {"tag": f"{uid}:c", "context_dir": "/etc", "dockerfile_path": f"bam-canary-{uid}"},
        )
        assert "refused" in error_text(r) and not tree.leaks(error_text(r))


# ----------------------------------------------------------------------------------------- namespaces


async def test_host_network_refused_for_run_and_build(esc: Client, sdk: Any, tree: Tree, uid: str) -> None:
    host_id = sdk.api.inspect_network("host")["Id"]
    for mode in ("host", "HOST", " host ", host_id, host_id[:12]):
        run = await esc.call_tool(
            "docker_container_run",
            {"image": tree.image, "command": ["true"], "network_mode": mode, "labels": {"bam-test": uid}},
        )
        assert "BAM_DOCKER_ALLOW_HOST_NETWORK" in error_text(run), mode
        build = await esc.call_tool(
            "docker_image_build",
            {"tag": f"{uid}:n", "dockerfile": f"FROM {tree.image}\nRUN true\n", "network_mode": mode},
        )
        assert "BAM_DOCKER_ALLOW_HOST_NETWORK" in error_text(build), mode
    assert sdk.api.containers(all=True, filters={"label": [f"bam-test={uid}"]}) == []


async def test_container_namespace_modes_refused(esc: Client, sdk: Any, tree: Tree, uid: str) -> None:
    args = {"image": tree.image, "command": ["sleep", "30"], "network_mode": "none", "labels": {"bam-test": uid}}
    target = ok(await esc.call_tool("docker_container_run", {**args, "name": f"{uid}-target"}))
    for field in ("network_mode", "pid_mode", "ipc_mode"):
        for ref in (target["id"], f"{uid}-target"):
            r = await esc.call_tool("docker_container_run", {**args, field: f"container:{ref}"})
            assert "BAM_DOCKER_ALLOW_CONTAINER_NAMESPACES" in error_text(r), field
        bad = await esc.call_tool("docker_container_run", {**args, field: "host"})
        assert "refused" in error_text(bad) and "[policy]" in error_text(bad)
    build = await esc.call_tool(
        "docker_image_build", {"tag": f"{uid}:n", "dockerfile": f"FROM {tree.image}\n", "network_mode": "container:x"}
    )
    assert "BAM_DOCKER_ALLOW_CONTAINER_NAMESPACES" in error_text(build)
    assert len(sdk.api.containers(all=True, filters={"label": [f"bam-test={uid}"]})) == 1


async def test_host_network_allowed_by_its_setting(
    monkeypatch: pytest.MonkeyPatch, cleanup: None, image: str, uid: str
) -> None:
    monkeypatch.setenv("BAM_DOCKER_ALLOW_HOST_NETWORK", "true")
    async with Client(build_server(policy=WRITES)) as c:
        r = ok(
            await c.call_tool(
                "docker_container_run",
                {
                    "image": image,
                    "command": ["true"],
                    "network_mode": "host",
                    "labels": {"bam-test": uid},
                    "wait_s": 20,
                },
            )
        )
        assert r["exit_code"] == 0
        text = error_text(await c.call_tool("docker_container_run", {"image": image, "pid_mode": "host"}))
        assert "BAM_DOCKER_ALLOW_HOST_PID" in text


async def test_run_options_outside_the_allow_list_have_no_effect(esc: Client, sdk: Any, tree: Tree, uid: str) -> None:
    """Only the declared parameters reach the engine: devices, security_opt, userns, binds... are dropped."""
    r = await esc.call_tool(
        "docker_container_run",
        {
            "image": tree.image,
            "command": ["true"],
            "network_mode": "none",
            "labels": {"bam-test": uid},
            "name": f"{uid}-opts",
            "devices": ["/dev/sda:/dev/sda:rwm"],
            "security_opt": ["seccomp=unconfined", "apparmor=unconfined", "label=disable"],
            "userns_mode": "host",
            "cgroupns": "host",
            "uts_mode": "host",
            "sysctls": {"kernel.shm_rmid_forced": "1"},
            "volumes_from": [f"{uid}-other"],
            "runtime": "bam-nonexistent",
            "binds": ["/:/host:rw"],
            "volumes": ["/etc:/etc2:rw"],
            "host_config": {"Binds": ["/:/host"], "Privileged": True},
            "device_cgroup_rules": ["a *:* rwm"],
        },
    )
    if check_refused_or_harmless(r, tree):
        return
    hc = sdk.api.inspect_container(f"{uid}-opts")["HostConfig"]
    assert not hc.get("Devices") and not hc.get("SecurityOpt") and not hc.get("Binds")
    assert not hc.get("Privileged") and not hc.get("VolumesFrom") and not hc.get("Sysctls")
    assert hc.get("UsernsMode") in ("", None) and hc.get("UTSMode") in ("", None)
    assert hc.get("CgroupnsMode") == "private" and hc.get("Runtime") != "bam-nonexistent"
    assert not hc.get("DeviceCgroupRules") and not sdk.api.inspect_container(f"{uid}-opts")["Mounts"]


# ------------------------------------------------------------------------------- legitimate use works


async def test_legitimate_binds_volumes_and_builds_inside_the_root(esc: Client, sdk: Any, tree: Tree, uid: str) -> None:
    base = {"image": tree.image, "network_mode": "none", "labels": {"bam-test": uid}, "wait_s": 30, "remove": True}
    (tree.allowed / "sub" / "in.txt").write_text("legit data\n")
    w = ok(
        await esc.call_tool(
            "docker_container_run",
            {
                **base,
                "command": ["sh", "-c", "cat /m/in.txt && echo written > /m/out.txt"],
                "mounts": [{"type": "bind", "source": f"{tree.allowed}/up/allowed/./sub/", "target": "/m"}],
            },
        )
    )
    assert w["exit_code"] == 0 and "legit data" in w["logs"]
    assert (tree.allowed / "sub" / "out.txt").read_text() == "written\n"
    vol = ok(
        await esc.call_tool(
            "docker_volume_create",
            {
                "name": f"{uid}-bindvol",
                "driver_opts": {"type": "none", "o": "bind", "device": f"{tree.allowed}/sub/"},
                "labels": {"bam-test": uid},
            },
        )
    )
    assert vol["options"]["device"] == f"{tree.allowed}/sub"  # the resolved path reached the engine
    r = ok(
        await esc.call_tool(
            "docker_container_run",
            {
                **base,
                "command": ["cat", "/v/out.txt"],
                "mounts": [{"type": "volume", "source": f"{uid}-bindvol", "target": "/v"}],
            },
        )
    )
    assert "written" in r["logs"]
    tmpfs = ok(
        await esc.call_tool(
            "docker_volume_create",
            {
                "name": f"{uid}-tmpfs",
                "driver_opts": {"type": "tmpfs", "device": "tmpfs", "o": "size=1m"},
                "labels": {"bam-test": uid},
            },
        )
    )
    assert tmpfs["driver"] == "local"
    b = ok(
        await esc.call_tool(
            "docker_image_build",
            {
                "tag": f"{uid}:legit",
                "context_dir": f"{tree.allowed}/sub/..",
                "dockerfile_path": "sub/../Dockerfile",
                "labels": {"bam-test": uid},
            },
        )
    )
    assert b["image_id"].startswith("sha256:")


async def test_secrets_stay_masked_in_inspect(esc: Client, sdk: Any, tree: Tree, uid: str) -> None:
    c = tree.canary
    sdk.api.create_volume(  # created behind the server's back (never mounted): options hold a password
        f"{uid}-cifs",
        driver="local",
        driver_opts={"type": "cifs", "o": f"addr=127.0.0.1,username=u,password={c}", "device": "//127.0.0.1/s"},
        labels={"bam-test": uid, "backup.token": c},
    )
    ok(
        await esc.call_tool(
            "docker_container_run",
            {
                "image": tree.image,
                "name": f"{uid}-sec",
                "command": ["sh", "-c", f"echo DB_PASSWORD={c}; true --password={c}"],
                "env": {"DB_PASSWORD": c, "API_TOKEN": c, "PLAIN": "visible"},
                "labels": {"bam-test": uid, "db.password": c},
                "network_mode": "none",
                "wait_s": 20,
            },
        )
    )
    for tool, args in (
        ("docker_container_inspect", {"container": f"{uid}-sec", "full": True}),
        ("docker_containers_list", {"name": uid}),
        ("docker_container_logs", {"container": f"{uid}-sec"}),
        ("docker_volume_inspect", {"name": f"{uid}-cifs"}),
        ("docker_volumes_list", {"name": uid}),
        ("docker_managed_list", {}),
    ):
        out = texts(await esc.call_tool(tool, args))
        assert not tree.leaks(out), tool
    full = ok(await esc.call_tool("docker_container_inspect", {"container": f"{uid}-sec", "full": True}))
    assert "PLAIN=visible" in full["env"]


async def test_build_add_from_url_refused(esc: Client, tree: Tree, uid: str) -> None:
    """The engine fetches `ADD <url>` itself, from its host's network (metadata services, loopback)."""
    (tree.allowed / "Remote.Dockerfile").write_text(f"FROM {tree.image}\nADD \\\n  http://127.0.0.1:9/x /x\n")
    for args in (
        {"dockerfile": f"FROM {tree.image}\nADD http://169.254.169.254/latest/meta-data/ /m\n"},
        {"dockerfile": f"FROM {tree.image}\nONBUILD add --chown=1:1 git@127.0.0.1:x/y.git /y\n"},
        {"dockerfile": f'FROM {tree.image}\nADD ["https://127.0.0.1:9/x", "/x"]\n'},
        {"context_dir": str(tree.allowed), "dockerfile_path": "Remote.Dockerfile"},
    ):
        r = await esc.call_tool("docker_image_build", {"tag": f"{uid}:u", "network_mode": "none", **args})
        assert "BAM_DOCKER_ALLOW_BUILD_URLS" in error_text(r), args


async def test_system_trees_refused_even_under_an_allowed_root(
    monkeypatch: pytest.MonkeyPatch, cleanup: None, image: str, uid: str
) -> None:
    """Roots `/var`, `/` and `/etc`: `/` and `/etc` are never roots; under `/var` the runtime trees stay refused."""
    monkeypatch.setenv("BAM_DOCKER_BIND_ROOTS", "/var,/,/etc")
    async with Client(build_server(policy=WRITES)) as c:
        for path in ("/var", "/var/", "/var/run", "/var/run/docker.sock", "/var/lib", "/var/lib/docker", "/var/log"):
            r = await c.call_tool(
                "docker_container_run",
                {"image": image, "network_mode": "none", "mounts": [{"type": "bind", "source": path, "target": "/m"}]},
            )
            assert "system or runtime path" in error_text(r), path
        for path in ("/", "/etc", "/etc/hostname", "/root", "/proc"):
            r = await c.call_tool(
                "docker_volume_create", {"name": f"{uid}-sys", "driver_opts": {"o": "bind", "device": path}}
            )
            assert "outside the allowed roots" in error_text(r), path
        scratch = tempfile.mkdtemp(prefix=f"{uid}-", dir="/var/tmp")  # an ordinary directory under /var
        args = {"image": image, "command": ["true"], "network_mode": "none", "labels": {"bam-test": uid}}
        mount = {"type": "bind", "source": f"{scratch}/", "target": "/m", "read_only": True}
        try:
            r = ok(await c.call_tool("docker_container_run", {**args, "mounts": [mount], "wait_s": 20, "remove": True}))
        finally:
            os.rmdir(scratch)
        assert r["exit_code"] == 0


async def test_networks_cannot_reach_host_interfaces(esc: Client, sdk: Any, uid: str) -> None:
    for args in (
        {"driver": "macvlan", "options": {"parent": "lo"}},
        {"driver": "ipvlan", "options": {"parent": "lo"}},
        {"driver": "host"},
        {"driver": "bridge", "options": {"com.docker.network.bridge.name": "lo"}},
        {"driver": "bridge", "options": {"Parent": "lo"}},
    ):
        r = await esc.call_tool("docker_network_create", {"name": f"{uid}-hn", "internal": True, **args})
        assert "refused" in error_text(r) and "[policy]" in error_text(r), args
    assert sdk.api.networks(names=[f"{uid}-hn"]) == []
