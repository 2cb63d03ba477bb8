"""Summaries of what runs in an account/region: EC2, Lambda, ECS, EKS, RDS, DynamoDB, SQS."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context
from pydantic import BaseModel, Field

from servers._common.tools import READ_OPEN, tool
from servers.aws.common import AwsPage, Listing, ShortListing, each, grouped, iso, list_page, state_of


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
    id: str
    name: str | None
    type: str | None
    state: str | None
    availability_zone: str | None
    private_ip: str | None
    public_ip: str | None
    image_id: str | None
    vpc_id: str | None
    launch_time: str | None


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
            Instance(
                id=i["InstanceId"],
                name=_tag(i.get("Tags"), "Name"),
                type=i.get("InstanceType"),
                state=(i.get("State") or {}).get("Name"),
                availability_zone=(i.get("Placement") or {}).get("AvailabilityZone"),
                private_ip=i.get("PrivateIpAddress"),
                public_ip=i.get("PublicIpAddress"),
                image_id=i.get("ImageId"),
                vpc_id=i.get("VpcId"),
                launch_time=iso(i.get("LaunchTime")),
            )
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
    name: str
    runtime: str | None
    handler: str | None
    memory_mb: int | None
    timeout_s: int | None
    code_size: int | None
    last_modified: str | None
    state: str | None = None
    architectures: list[str] = Field(default_factory=list)


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
            LambdaFunction(
                name=f["FunctionName"],
                runtime=f.get("Runtime"),
                handler=f.get("Handler"),
                memory_mb=f.get("MemorySize"),
                timeout_s=f.get("Timeout"),
                code_size=f.get("CodeSize"),
                last_modified=f.get("LastModified"),
                state=f.get("State"),
                architectures=f.get("Architectures", []),
            )
            for f in r.get("Functions", [])
            if not name_contains or name_contains.lower() in f["FunctionName"].lower()
        ]

    page = await list_page(state_of(ctx), ask, "lambda", "list_functions", convert, action="list Lambda functions")
    return LambdaPage(functions=page.items, **page.fields())


class EcsCluster(BaseModel):
    name: str
    arn: str
    status: str | None
    active_services: int | None
    running_tasks: int | None
    pending_tasks: int | None
    container_instances: int | None
    services: list[str] = Field(description="Service names (first 20)")
    services_truncated: bool


class EcsClusterPage(AwsPage):
    clusters: list[EcsCluster]


def _ecs_clusters(c: Any, arns: list[str]) -> dict[str, EcsCluster]:
    out = {}
    for cl in c.describe_clusters(clusters=arns).get("clusters", []):
        svc = c.list_services(cluster=cl["clusterArn"], maxResults=20)
        out[cl["clusterArn"]] = EcsCluster(
            name=cl["clusterName"],
            arn=cl["clusterArn"],
            status=cl.get("status"),
            active_services=cl.get("activeServicesCount"),
            running_tasks=cl.get("runningTasksCount"),
            pending_tasks=cl.get("pendingTasksCount"),
            container_instances=cl.get("registeredContainerInstancesCount"),
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
    status: str | None
    version: str | None
    platform_version: str | None
    endpoint: str | None
    created: str | None
    nodegroups: list[str]


class EksClusterPage(AwsPage):
    clusters: list[EksCluster]


def _eks_cluster(c: Any, name: str) -> EksCluster:
    cl = c.describe_cluster(name=name)["cluster"]
    return EksCluster(
        name=name,
        status=cl.get("status"),
        version=cl.get("version"),
        platform_version=cl.get("platformVersion"),
        endpoint=cl.get("endpoint"),
        created=iso(cl.get("createdAt")),
        nodegroups=c.list_nodegroups(clusterName=name, maxResults=50).get("nodegroups", []),
    )


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


class DbInstance(BaseModel):
    id: str
    engine: str | None
    engine_version: str | None
    instance_class: str | None
    status: str | None
    endpoint: str | None
    multi_az: bool | None
    storage_gb: int | None
    availability_zone: str | None
    publicly_accessible: bool | None


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

    def convert(r: dict[str, Any]) -> list[Any]:
        out = []
        for d in r.get("DBInstances", []):
            ep = d.get("Endpoint") or {}
            out.append(
                DbInstance(
                    id=d["DBInstanceIdentifier"],
                    engine=d.get("Engine"),
                    engine_version=d.get("EngineVersion"),
                    instance_class=d.get("DBInstanceClass"),
                    status=d.get("DBInstanceStatus"),
                    endpoint=f"{ep['Address']}:{ep.get('Port')}" if ep.get("Address") else None,
                    multi_az=d.get("MultiAZ"),
                    storage_gb=d.get("AllocatedStorage"),
                    availability_zone=d.get("AvailabilityZone"),
                    publicly_accessible=d.get("PubliclyAccessible"),
                )
            )
        return out

    page = await list_page(
        state_of(ctx), ask, "rds", "describe_db_instances", convert, params=params, action="describe RDS instances"
    )
    return DbInstancePage(instances=page.items, **page.fields())


class DynamoTable(BaseModel):
    name: str
    status: str | None
    item_count: int | None
    size_bytes: int | None
    keys: dict[str, str] = Field(description="Key attribute -> HASH/RANGE")
    billing_mode: str | None
    indexes: list[str] = Field(description="Global and local secondary index names")


class DynamoTablePage(AwsPage):
    tables: list[DynamoTable]


def _dynamo_table(c: Any, name: str) -> DynamoTable:
    t = c.describe_table(TableName=name)["Table"]
    return DynamoTable(
        name=name,
        status=t.get("TableStatus"),
        item_count=t.get("ItemCount"),
        size_bytes=t.get("TableSizeBytes"),
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
    messages_visible: int | None
    messages_in_flight: int | None
    messages_delayed: int | None
    dead_letter_target: str | None = None


class QueuePage(AwsPage):
    queues: list[Queue]


def _queue(c: Any, url: str) -> Queue:
    a = c.get_queue_attributes(QueueUrl=url, AttributeNames=["All"]).get("Attributes", {})
    redrive = a.get("RedrivePolicy")

    def num(k: str) -> int | None:
        return int(a[k]) if k in a else None

    return Queue(
        name=url.rsplit("/", 1)[-1],
        url=url,
        fifo=a.get("FifoQueue") == "true",
        messages_visible=num("ApproximateNumberOfMessages"),
        messages_in_flight=num("ApproximateNumberOfMessagesNotVisible"),
        messages_delayed=num("ApproximateNumberOfMessagesDelayed"),
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
