"""Nodes: cordon and uncordon."""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver import Context
from pydantic import BaseModel

from servers._common.tools import WRITE_IDEMPOTENT, open_world, tool
from servers.kubernetes.common import ContextArg, get_object, patch, state_of, target

NodeArg = str


class CordonResult(BaseModel):
    node: str
    unschedulable: bool
    changed: bool


async def _cordon(ctx: Context[Any, Any], node: str, context: str | None, value: bool) -> CordonResult:
    """Set spec.unschedulable to `value` unless it already is."""
    kube = state_of(ctx)
    action = f"{'cordon' if value else 'uncordon'} node {node}"
    cluster, res, _ = await target(kube, context, "nodes", "v1", None, action, name=node)
    obj = await get_object(kube, cluster, res, node, None, action)
    was = bool((obj.get("spec") or {}).get("unschedulable"))
    if was != value:
        await patch(kube, cluster, action, res.path(name=node), {"spec": {"unschedulable": value or None}})
    return CordonResult(node=node, unschedulable=value, changed=was != value)


@tool("Cordon a node", open_world(WRITE_IDEMPOTENT))
async def k8s_node_cordon(ctx: Context[Any, Any], node: NodeArg, context: ContextArg = None) -> CordonResult:
    """Mark a node unschedulable (cordon): running pods stay, new pods are not placed on it."""
    return await _cordon(ctx, node, context, True)


@tool("Uncordon a node", open_world(WRITE_IDEMPOTENT))
async def k8s_node_uncordon(ctx: Context[Any, Any], node: NodeArg, context: ContextArg = None) -> CordonResult:
    """Mark a node schedulable again (uncordon)."""
    return await _cordon(ctx, node, context, False)
