"""Images on the real engine: build with progress, inspect, history, tag, push/pull via the local registry."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from servers.docker import build_server
from tests.conftest import error_text, ok
from tests.servers.docker.conftest import WRITES

pytestmark = pytest.mark.anyio


def registry() -> str:
    reg = os.environ.get("MCP_TEST_REGISTRY")
    if not reg:
        pytest.fail("MCP_TEST_REGISTRY is unset (start-services.sh starts a local registry)", pytrace=False)
    return reg


async def test_build_inline_reports_progress(client: Client, image: str, uid: str) -> None:
    seen: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total, message))

    dockerfile = (
        f"FROM {image}\nRUN echo built > /built.txt\nENV GITHUB_TOKEN=ghp_abcdefghijklmnopqrstuvwxyz0123456789\n"
        f"RUN echo {'long-' * 100}\n"
    )
    r = await client.call_tool(
        "docker_image_build",
        {"tag": f"{uid}:1", "dockerfile": dockerfile, "labels": {"bam-test": uid}, "network_mode": "none"},
        progress_callback=on_progress,
    )
    b = ok(r)
    assert b["image_id"].startswith("sha256:") and b["tags"] == [f"{uid}:1"]
    assert b["labels"]["io.backend-architect-mcp.managed"] == "true"
    assert any("Successfully built" in line for line in b["log"])
    # progress notifications reached the client, in increasing order, with the build steps
    assert len(seen) >= 5
    assert [p for p, _, _ in seen] == sorted({p for p, _, _ in seen})
    assert any(m and m.startswith("Step 1/") for _, _, m in seen)
    assert all(m and len(m) <= 200 for _, _, m in seen)  # one message per line, each cut to 200 characters
    assert any("long-long-" in line and len(line) > 200 for line in b["log"])  # the result keeps whole lines
    assert all("ghp_abcdefghij" not in (m or "") for _, _, m in seen)
    assert all("ghp_abcdefghij" not in line for line in b["log"])

    info = ok(await client.call_tool("docker_image_inspect", {"image": f"{uid}:1", "full": True}))
    assert info["labels"]["bam-test"] == uid and info["os"] == "linux" and info["layers"] >= 2
    assert "GITHUB_TOKEN=***REDACTED***" in info["env"]
    assert "ghp_abcdefghij" not in str(info["raw"])
    hist = ok(await client.call_tool("docker_image_history", {"image": f"{uid}:1"}))
    assert hist["total"] >= 3 and any("built.txt" in h["created_by"] for h in hist["layers"])
    assert all("ghp_abcdefghij" not in h["created_by"] for h in hist["layers"])
    page = ok(await client.call_tool("docker_image_history", {"image": f"{uid}:1", "limit": 1}))
    assert page["count"] == 1 and page["truncated"] is True and page["next_offset"] == 1
    lst = ok(await client.call_tool("docker_images_list", {"reference": uid, "managed_only": True}))
    assert lst["total"] == 1 and lst["images"][0]["managed"] is True and lst["images"][0]["tags"] == [f"{uid}:1"]
    lab = ok(await client.call_tool("docker_images_list", {"label": [f"bam-test={uid}"]}))
    assert lab["total"] == 1


async def test_build_from_context_dir(
    monkeypatch: pytest.MonkeyPatch, cleanup: None, image: str, uid: str, tmp_path: Path
) -> None:
    monkeypatch.setenv("BAM_DOCKER_BUILD_ROOTS", str(tmp_path))
    async with Client(build_server(policy=WRITES)) as client:
        await _build_from_context_dir(client, image, uid, tmp_path)


async def _build_from_context_dir(client: Client, image: str, uid: str, tmp_path: Path) -> None:
    (tmp_path / "hello.txt").write_text("hello from context\n")
    (tmp_path / "build").mkdir()
    (tmp_path / "build" / "App.Dockerfile").write_text(f"FROM {image}\nARG GREETING\nCOPY hello.txt /hello.txt\n")
    b = ok(
        await client.call_tool(
            "docker_image_build",
            {
                "tag": f"{uid}:ctx",
                "context_dir": str(tmp_path),
                "dockerfile_path": "build/App.Dockerfile",
                "build_args": {"GREETING": "hi"},
                "labels": {"bam-test": uid},
                "log_lines": 2,
            },
        )
    )
    assert len(b["log"]) == 2 and b["truncated"] is True
    # context plus inline Dockerfile text (kept outside the context)
    b2 = ok(
        await client.call_tool(
            "docker_image_build",
            {
                "tag": f"{uid}:inline",
                "context_dir": str(tmp_path),
                "dockerfile": f"FROM {image}\nCOPY hello.txt /copied.txt\n",
                "labels": {"bam-test": uid},
                "no_cache": True,
            },
        )
    )
    run = ok(
        await client.call_tool(
            "docker_container_run",
            {
                "image": f"{uid}:inline",
                "command": ["cat", "/copied.txt"],
                "network_mode": "none",
                "labels": {"bam-test": uid},
                "wait_s": 30,
                "remove": True,
            },
        )
    )
    assert b2["image_id"] and "hello from context" in run["logs"]


async def test_build_failures(client: Client, image: str, uid: str, tmp_path: Path) -> None:
    text = error_text(
        await client.call_tool(
            "docker_image_build",
            {
                "tag": f"{uid}:bad",
                "dockerfile": f"FROM {image}\nRUN echo about-to-fail && exit 9\n",
                "network_mode": "none",
                "labels": {"bam-test": uid},
            },
        )
    )
    assert "failed to build the image" in text and "9" in text and "about-to-fail" in text
    assert "refused" in error_text(
        await client.call_tool("docker_image_build", {"tag": f"{uid}:x", "context_dir": "/"})
    )
    assert "outside the allowed roots" in error_text(
        await client.call_tool("docker_image_build", {"tag": f"{uid}:x", "context_dir": str(tmp_path / "missing")})
    )
    assert "give `dockerfile`" in error_text(await client.call_tool("docker_image_build", {"tag": f"{uid}:x"}))
    missing = error_text(
        await client.call_tool(
            "docker_image_build", {"tag": f"{uid}:x", "dockerfile": f"FROM {registry()}/bam-test/{uid}-missing:none\n"}
        )
    )
    assert "failed to build the image" in missing


async def test_build_roots_setting(monkeypatch: pytest.MonkeyPatch, cleanup: None, uid: str, tmp_path: Path) -> None:
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    monkeypatch.setenv("BAM_DOCKER_BUILD_ROOTS", str(allowed))
    async with Client(build_server(policy=WRITES)) as c:
        text = error_text(await c.call_tool("docker_image_build", {"tag": f"{uid}:x", "context_dir": str(tmp_path)}))
        assert "outside the allowed roots" in text and "BAM_DOCKER_BUILD_ROOTS" in text


async def test_tag_push_pull_remove(client: Client, sdk: Any, image: str, uid: str) -> None:
    remote = f"{registry()}/bam-test/{uid}:v1"
    t = ok(await client.call_tool("docker_image_tag", {"image": image, "target": remote}))
    assert t["target"] == remote and t["image_id"].startswith("sha256:")
    seen: list[str | None] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append(message)

    pushed = ok(await client.call_tool("docker_image_push", {"reference": remote}, progress_callback=on_progress))
    assert pushed["digest"] and pushed["digest"].startswith("sha256:") and seen
    removed = ok(await client.call_tool("docker_image_remove", {"image": remote}))
    assert remote in removed["untagged"] and removed["deleted"] == []  # busybox:local still holds the layers
    seen.clear()
    pulled = ok(await client.call_tool("docker_image_pull", {"reference": remote}, progress_callback=on_progress))
    assert any(m and m.startswith("Digest: sha256:") for m in seen) and seen[-1] == pulled["log"][-1]
    assert pulled["reference"] == remote and remote in pulled["tags"] and pulled["digest"] == pushed["digest"]
    again = ok(
        await client.call_tool("docker_image_pull", {"reference": f"{registry()}/bam-test/{uid}@{pushed['digest']}"})
    )
    assert again["image_id"] == pulled["image_id"]
    missing = error_text(
        await client.call_tool("docker_image_pull", {"reference": f"{registry()}/bam-test/{uid}:nope"})
    )
    assert "failed to pull the image" in missing
    assert "404" in missing or "not found" in missing.lower()
    ok(await client.call_tool("docker_image_remove", {"image": remote}))
    assert not any(remote in (i.get("RepoTags") or []) for i in sdk.api.images())


async def test_allowed_registries(monkeypatch: pytest.MonkeyPatch, cleanup: None, uid: str) -> None:
    monkeypatch.setenv("BAM_DOCKER_ALLOWED_REGISTRIES", registry())
    async with Client(build_server(policy=WRITES)) as c:
        text = error_text(await c.call_tool("docker_image_pull", {"reference": f"library/{uid}:1"}))
        assert "'docker.io'" in text and "BAM_DOCKER_ALLOWED_REGISTRIES" in text
        text = error_text(await c.call_tool("docker_image_push", {"reference": f"ghcr.io/x/{uid}:1"}))
        assert "'ghcr.io'" in text


async def test_prune_removes_only_managed_dangling(client: Client, sdk: Any, image: str, uid: str) -> None:
    args = {"tag": f"{uid}:p", "labels": {"bam-test": uid}, "network_mode": "none"}
    first = ok(await client.call_tool("docker_image_build", {**args, "dockerfile": f"FROM {image}\nRUN echo 1 > /v\n"}))
    second = ok(
        await client.call_tool("docker_image_build", {**args, "dockerfile": f"FROM {image}\nRUN echo 2 > /v\n"})
    )
    assert first["image_id"] != second["image_id"]
    dangling = ok(await client.call_tool("docker_images_list", {"dangling": True, "label": [f"bam-test={uid}"]}))
    assert [i["id"] for i in dangling["images"]] == [first["image_id"].split(":")[1][:12]]
    pr = ok(await client.call_tool("docker_images_prune", {"label": [f"bam-test={uid}"]}))
    assert first["image_id"] in pr["deleted"] and pr["truncated"] is False
    assert pr["space_reclaimed_bytes"] >= 0
    assert sdk.api.images(filters={"label": [f"bam-test={uid}"]})[0]["Id"] == second["image_id"]
    assert sdk.images.get(image)  # the unmanaged base image is untouched
