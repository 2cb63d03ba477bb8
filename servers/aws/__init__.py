"""AWS module (prefix `aws_`): every AWS API through one validated tool, plus curated daily-work tools."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mcp.server.mcpserver import MCPServer

from servers._common import ModuleInfo, ToolPolicy, register_tools
from servers._common.standalone import build_standalone

if TYPE_CHECKING:
    from contextlib import AbstractAsyncContextManager

    from servers.aws.client import Aws
    from servers.aws.settings import AwsSettings

KEY = "aws"
PREFIX = "aws_"


def resources(settings: AwsSettings | None = None) -> AbstractAsyncContextManager[Aws]:
    """The module's lifespan state (boto3 itself is imported on first use, in a worker thread)."""
    from servers.aws.client import resources as _resources

    return _resources(settings)


def register(server: MCPServer[Any], prefix: str = PREFIX, policy: ToolPolicy | None = None) -> list[str]:
    """Add the AWS tools that `policy` permits (default: read-only) to `server`."""
    from servers.aws.tools import TOOLS

    return register_tools(server, TOOLS, module=KEY, prefix=prefix, policy=policy or ToolPolicy())


MODULE = ModuleInfo(
    key=KEY,
    prefix=PREFIX,
    title="AWS",
    summary=(
        "call any AWS API with parameters validated against botocore's models (read-only unless writes are "
        "allowed), discover services and operations, switch profile/region/role per call; curated tools for "
        "caller identity, S3, CloudWatch Logs and Logs Insights, EC2/Lambda/ECS/EKS/RDS/DynamoDB/SQS "
        "summaries and cost by service"
    ),
    resources=resources,
    register=register,
)


def build_server(policy: ToolPolicy | None = None) -> MCPServer[Any]:
    """The AWS module as an MCP server of its own."""
    return build_standalone(MODULE, policy=policy)


__all__ = ["KEY", "MODULE", "PREFIX", "build_server", "register", "resources"]
