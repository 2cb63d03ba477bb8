"""Summaries of what runs in an account/region: EC2, Lambda, ECS, EKS, RDS, DynamoDB, SQS."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context
from pydantic import BaseModel, Field

from servers._common.tools import READ_OPEN, tool
from servers.aws.common import (
    AwsPage,
    From,
    Listing,
    ShortListing,
    each,
    from_aws,
    grouped,
    iso,
    list_page,
    state_of,
)


def _tag(tags: list[dict[str, Any]] | None, key: str) -> str | None:
    for t in tags or []:
        if t.get("Key") == key:
            return str(t.get("Value"))
    return None


Filters = Annotated[
    dict[str, list[str]] | None,
    Field(description='EC2 filters, e.g. {"tag:env": ["prod"]}'),
]


class Instance(BaseModel):
    id: Annotated[str, From("InstanceId")]
    name: str | None  # the Name tag
    type: Annotated[str | None, From("InstanceType")]
    state: Annotated[str | None, From("State", "Name")]
    availability_zone: Annotated[str | None, From("Placement", "AvailabilityZone")]
    private_ip: Annotated[str | None, From("PrivateIpAddress")]
    public_ip: Annotated[str | None, From("PublicIpAddress")]
    image_id: Annotated[str | None, From("ImageId")]
    vpc_id: Annotated[str | None, From("VpcId")]
    launch_time: Annotated[str | None, From("LaunchTime", then=iso)]


class InstancePage(AwsPage):
    instances: list[Instance]
    state_counts: dict[str, int] = Field(description="Instances in this page by state")


@tool("AWS EC2: instance summary", READ_OPEN)
@grouped
async def aws_ec2_instances_list(
    ctx: Context[Any, Any],
    states: Annotated[
        list[Literal["pending", "running", "stopping", "stopped", "shutting-down", "terminated"]] | None,
        Field(description="Only instances in these states"),
    ] = None,
    filters: Filters = None,
    *,
    ask: Listing,
) -> InstancePage:
    """Summarize EC2 instances (id, Name tag, type, state, AZ, IPs, launch time) with filters."""
    flt = [{"Name": k, "Values": v} for k, v in (filters or {}).items()]
    if states:
        flt.append({"Name": "instance-state-name", "Values": list(states)})
    params: dict[str, Any] = {"Filters": flt} if flt else {}

    def convert(r: dict[str, Any]) -> list[Any]:
        return [
            from_aws(Instance, i, name=_tag(i.get("Tags"), "Name"))
            for res in r.get("Reservations", [])
            for i in res.get("Instances", [])
        ]

    page = await list_page(
        state_of(ctx), ask, "ec2", "describe_instances", convert, params=params, action="describe EC2 instances"
    )
    counts: dict[str, int] = {}
    for i in page.items:
        counts[i.state or "unknown"] = counts.get(i.state or "unknown", 0) + 1
    return InstancePage(instances=page.items, state_counts=counts, **page.fields())


class LambdaFunction(BaseModel):
    name: Annotated[str, From("FunctionName")]
    runtime: Annotated[str | None, From("Runtime")]
    handler: Annotated[str | None, From("Handler")]
    memory_mb: Annotated[int | None, From("MemorySize")]
    timeout_s: Annotated[int | None, From("Timeout")]
    code_size: Annotated[int | None, From("CodeSize")]
    last_modified: Annotated[str | None, From("LastModified")]
    state: Annotated[str | None, From("State")] = None
    architectures: Annotated[list[str], From("Architectures")] = Field(default_factory=list)


class LambdaPage(AwsPage):
    functions: list[LambdaFunction]


@tool("AWS Lambda: function summary", READ_OPEN)
@grouped
async def aws_lambda_functions_list(
    ctx: Context[Any, Any],
    name_contains: Annotated[str | None, Field(description="Name contains this")] = None,
    *,
    ask: Listing,
) -> LambdaPage:
    """Summarize Lambda functions (runtime, handler, memory, timeout, code size, last modified)."""

    def convert(r: dict[str, Any]) -> list[Any]:
        return [
            from_aws(LambdaFunction, f)
            for f in r.get("Functions", [])
            if not name_contains or name_contains.lower() in f["FunctionName"].lower()
        ]

    page = await list_page(state_of(ctx), ask, "lambda", "list_functions", convert, action="list Lambda functions")
    return LambdaPage(functions=page.items, **page.fields())


class EcsCluster(BaseModel):
    name: Annotated[str, From("clusterName")]
    arn: Annotated[str, From("clusterArn")]
    status: Annotated[str | None, From("status")]
    active_services: Annotated[int | None, From("activeServicesCount")]
    running_tasks: Annotated[int | None, From("runningTasksCount")]
    pending_tasks: Annotated[int | None, From("pendingTasksCount")]
    container_instances: Annotated[int | None, From("registeredContainerInstancesCount")]
    services: list[str] = Field(description="Service names (first 20)")
    services_truncated: bool


class EcsClusterPage(AwsPage):
    clusters: list[EcsCluster]


def _ecs_clusters(c: Any, arns: list[str]) -> dict[str, EcsCluster]:
    out = {}
    for cl in c.describe_clusters(clusters=arns).get("clusters", []):
        svc = c.list_services(cluster=cl["clusterArn"], maxResults=20)
        out[cl["clusterArn"]] = from_aws(
            EcsCluster,
            cl,
            services=[a.rsplit("/", 1)[-1] for a in svc.get("serviceArns", [])],
            services_truncated=bool(svc.get("nextToken")),
        )
    return out


@tool("AWS ECS: cluster summary", READ_OPEN)
@grouped
async def aws_ecs_clusters_list(ctx: Context[Any, Any], *, ask: Listing) -> EcsClusterPage:
    """Summarize ECS clusters: status, running/pending tasks, services (names) and container instances."""
    page = await list_page(
        state_of(ctx),
        ask,
        "ecs",
        "list_clusters",
        lambda r: list(r.get("clusterArns", [])),
        expand=_ecs_clusters,
        most=100,
        action="list ECS clusters",
    )
    return EcsClusterPage(clusters=page.items, **page.fields())


class EksCluster(BaseModel):
    name: str
    status: Annotated[str | None, From("status")]
    version: Annotated[str | None, From("version")]
    platform_version: Annotated[str | None, From("platformVersion")]
    endpoint: Annotated[str | None, From("endpoint")]
    created: Annotated[str | None, From("createdAt", then=iso)]
    nodegroups: list[str]


class EksClusterPage(AwsPage):
    clusters: list[EksCluster]


def _eks_cluster(c: Any, name: str) -> EksCluster:
    nodegroups = c.list_nodegroups(clusterName=name, maxResults=50).get("nodegroups", [])
    return from_aws(EksCluster, c.describe_cluster(name=name)["cluster"], name=name, nodegroups=nodegroups)


@tool("AWS EKS: cluster summary", READ_OPEN)
@grouped
async def aws_eks_clusters_list(ctx: Context[Any, Any], *, ask: Listing) -> EksClusterPage:
    """Summarize EKS clusters: status, Kubernetes version, endpoint, creation time and node groups."""
    page = await list_page(
        state_of(ctx),
        ask,
        "eks",
        "list_clusters",
        lambda r: list(r.get("clusters", [])),
        expand=each(_eks_cluster),
        most=100,
        action="list EKS clusters",
    )
    return EksClusterPage(clusters=page.items, **page.fields())


def _address(endpoint: dict[str, Any]) -> str | None:
    return f"{endpoint['Address']}:{endpoint.get('Port')}" if endpoint.get("Address") else None


class DbInstance(BaseModel):
    id: Annotated[str, From("DBInstanceIdentifier")]
    engine: Annotated[str | None, From("Engine")]
    engine_version: Annotated[str | None, From("EngineVersion")]
    instance_class: Annotated[str | None, From("DBInstanceClass")]
    status: Annotated[str | None, From("DBInstanceStatus")]
    endpoint: Annotated[str | None, From("Endpoint", then=_address)]
    multi_az: Annotated[bool | None, From("MultiAZ")]
    storage_gb: Annotated[int | None, From("AllocatedStorage")]
    availability_zone: Annotated[str | None, From("AvailabilityZone")]
    publicly_accessible: Annotated[bool | None, From("PubliclyAccessible")]


class DbInstancePage(AwsPage):
    instances: list[DbInstance]


@tool("AWS RDS: DB instance summary", READ_OPEN)
@grouped
async def aws_rds_instances_list(
    ctx: Context[Any, Any],
    engine: Annotated[str | None, Field(description="e.g. postgres, aurora-postgresql")] = None,
    *,
    ask: Listing,
) -> DbInstancePage:
    """Summarize RDS DB instances: engine/version, class, status, endpoint, Multi-AZ, storage."""
    params: dict[str, Any] = {"Filters": [{"Name": "engine", "Values": [engine]}]} if engine else {}

    page = await list_page(
        state_of(ctx),
        ask,
        "rds",
        "describe_db_instances",
        lambda r: [from_aws(DbInstance, d) for d in r.get("DBInstances", [])],
        params=params,
        action="describe RDS instances",
    )
    return DbInstancePage(instances=page.items, **page.fields())


class DynamoTable(BaseModel):
    name: str
    status: Annotated[str | None, From("TableStatus")]
    item_count: Annotated[int | None, From("ItemCount")]
    size_bytes: Annotated[int | None, From("TableSizeBytes")]
    keys: dict[str, str] = Field(description="Key attribute -> HASH/RANGE")
    billing_mode: str | None
    indexes: list[str] = Field(description="Global and local secondary index names")


class DynamoTablePage(AwsPage):
    tables: list[DynamoTable]


def _dynamo_table(c: Any, name: str) -> DynamoTable:
    t = c.describe_table(TableName=name)["Table"]
    return from_aws(
        DynamoTable,
        t,
        name=name,
        keys={k["AttributeName"]: k["KeyType"] for k in t.get("KeySchema", [])},
        billing_mode=(t.get("BillingModeSummary") or {}).get("BillingMode", "PROVISIONED"),
        indexes=[i["IndexName"] for i in t.get("GlobalSecondaryIndexes", []) + t.get("LocalSecondaryIndexes", [])],
    )


@tool("AWS DynamoDB: table summary", READ_OPEN)
@grouped
async def aws_dynamodb_tables_list(ctx: Context[Any, Any], *, ask: ShortListing) -> DynamoTablePage:
    """Summarize DynamoDB tables: status, item count, size, key schema, billing mode, indexes."""
    page = await list_page(
        state_of(ctx),
        ask,
        "dynamodb",
        "list_tables",
        lambda r: list(r.get("TableNames", [])),
        expand=each(_dynamo_table),
        action="list DynamoDB tables",
    )
    return DynamoTablePage(tables=page.items, **page.fields())


class Queue(BaseModel):
    name: str
    url: str
    fifo: bool
    messages_visible: Annotated[int | None, From("ApproximateNumberOfMessages", then=int)]
    messages_in_flight: Annotated[int | None, From("ApproximateNumberOfMessagesNotVisible", then=int)]
    messages_delayed: Annotated[int | None, From("ApproximateNumberOfMessagesDelayed", then=int)]
    dead_letter_target: str | None = None


class QueuePage(AwsPage):
    queues: list[Queue]


def _queue(c: Any, url: str) -> Queue:
    a = c.get_queue_attributes(QueueUrl=url, AttributeNames=["All"]).get("Attributes", {})
    redrive = a.get("RedrivePolicy")
    return from_aws(
        Queue,
        a,
        name=url.rsplit("/", 1)[-1],
        url=url,
        fifo=a.get("FifoQueue") == "true",
        dead_letter_target=json.loads(redrive).get("deadLetterTargetArn") if redrive else None,
    )


@tool("AWS SQS: queue summary", READ_OPEN)
@grouped
async def aws_sqs_queues_list(
    ctx: Context[Any, Any],
    prefix: Annotated[str | None, Field(description="Only queues whose name starts with this")] = None,
    *,
    ask: ShortListing,
) -> QueuePage:
    """Summarize SQS queues: approximate visible / in-flight / delayed messages, FIFO, dead-letter target."""
    page = await list_page(
        state_of(ctx),
        ask,
        "sqs",
        "list_queues",
        lambda r: list(r.get("QueueUrls", [])),
        params={"QueueNamePrefix": prefix} if prefix else None,
        expand=each(_queue),
        action="list SQS queues",
    )
    return QueuePage(queues=page.items, **page.fields())
