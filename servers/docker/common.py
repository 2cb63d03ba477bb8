"""Shared parameter types and helpers of the docker tools."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from servers._common import redact
from servers._common.paging import page_limit
from servers._common.state import StateOf
from servers.docker.client import Docker
from servers.docker.settings import MANAGED_LABEL

KEY = "docker"

Limit = Annotated[int | None, page_limit(100)]  # page size (default 100, capped by the server)
Offset = Annotated[int, Field(ge=0)]  # the previous page's next_offset
NAME_PATTERN = r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$"
"""The engine's rule for container, volume and network names (ids match it too): no `/`, no `..` path."""
_PATH = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DOMAIN = (
    r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*"
)
IMAGE_PATTERN = (
    rf"^(?:(?:{_DOMAIN}|\[[a-fA-F0-9:]+\])(?::[0-9]+)?/)?{_PATH}(?:/{_PATH})*"
    r"(?::[\w][\w.-]{0,127})?(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$"
)
"""The distribution reference grammar (`[registry/]path[:tag][@digest]`); image ids (`sha256:<hex>`) match too."""

ObjectRef = Annotated[str, Field(pattern=NAME_PATTERN, max_length=255)]  # a name, an id or an id prefix
ContainerRef = ObjectRef
NEW_NAME_PATTERN = r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$"
"""The engine's rule for a name it gives a container or a volume: `NAME_PATTERN`, at least two characters."""
NewName = Annotated[str, Field(pattern=NEW_NAME_PATTERN, max_length=128)]  # the name of an object to create
ImageRef = Annotated[
    str, Field(pattern=IMAGE_PATTERN, max_length=512)  # repo:tag, repo@digest or an image id
]
Labels = dict[str, str] | None
LabelFilter = Annotated[list[str] | None, Field(description="key or key=value; all must match")]


state_of = StateOf(KEY, Docker)
"""The module's lifespan object for a tool call."""


def provenance(doc: dict[str, Any]) -> dict[str, Any]:
    """The `labels` (redacted) and `managed` (carries this server's provenance label) fields of a summary."""
    labels = doc.get("Labels") or {}
    return {"labels": redact(labels), "managed": labels.get(MANAGED_LABEL) == "true"}


def list_filters(label: list[str] | None, managed_only: bool, **given: Any) -> dict[str, Any] | None:
    """The `filters` of a list call: those `given` (None and empty ones left out, False kept), the caller's
    `label` filters plus the provenance label with `managed_only`; None when there are none."""
    filters = {k: v for k, v in given.items() if v or v is False}
    labels = [*(label or []), *([f"{MANAGED_LABEL}=true"] if managed_only else [])]
    if labels:
        filters["label"] = labels
    return filters or None
