"""Summaries of what runs in an account/region (EC2, Lambda, ECS, EKS, RDS, DynamoDB, SQS) and cost."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context
from pydantic import BaseModel, Field

from servers._common import tool_error
from servers.aws.common import (
    AwsPage,
    MaxItems,
    NextToken,
    Profile,
    Region,
    RoleArn,
    aws_state,
    page_size,
    paginate,
    target,
)


def _iso(value: Any) -> str | None:
    return value.isoformat() if isinstance(value, dt.datetime | dt.date) else (str(value) if value else None)


def _tag(tags: list[dict[str, Any]] | None, key: str) -> str | None:
    for t in tags or []:
        if t.get("Key") == key:
            return str(t.get("Value"))
    return None


Filters = Annotated[
    dict[str, list[str]] | None,
    Field(description='EC2 filters as name -> values, e.g. {"tag:env": ["prod"], "vpc-id": ["vpc-1"]}'),
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


async def aws_ec2_instances_list(
    ctx: Context[Any, Any],
    states: Annotated[
        list[Literal["pending", "running", "stopping", "stopped", "shutting-down", "terminated"]] | None,
        Field(description="Only instances in these states"),
    ] = None,
    filters: Filters = None,
    max_items: MaxItems = None,
    next_token: NextToken = None,
    region: Region = None,
    profile: Profile = None,
    role_arn: RoleArn = None,
) -> InstancePage:
    """Summarize EC2 instances (id, Name tag, type, state, AZ, IPs, launch time) with filters."""
    aws = aws_state(ctx)
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
                launch_time=_iso(i.get("LaunchTime")),
            )
            for res in r.get("Reservations", [])
            for i in res.get("Instances", [])
        ]

    def run(c: Any) -> tuple[list[Any], str | None]:
        return paginate(
            c,
            "describe_instances",
            params,
            convert,
            max_items=page_size(aws, max_items),
            token=next_token,
            max_bytes=aws.settings.max_bytes,
        )

    (items, token), used = await aws.call(
        "ec2", target(profile, region, role_arn), run, action="describe EC2 instances"
    )
    counts: dict[str, int] = {}
    for i in items:
        counts[i.state or "unknown"] = counts.get(i.state or "unknown", 0) + 1
    return InstancePage(
        region=used,
        instances=items,
        state_counts=counts,
        count=len(items),
        truncated=token is not None,
        next_token=token,
    )


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


async def aws_lambda_functions_list(
    ctx: Context[Any, Any],
    name_contains: Annotated[str | None, Field(description="Only functions whose name contains this")] = None,
    max_items: MaxItems = None,
    next_token: NextToken = None,
    region: Region = None,
    profile: Profile = None,
    role_arn: RoleArn = None,
) -> LambdaPage:
    """Summarize Lambda functions (runtime, handler, memory, timeout, code size, last modified)."""
    aws = aws_state(ctx)

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

    def run(c: Any) -> tuple[list[Any], str | None]:
        return paginate(
            c,
            "list_functions",
            {},
            convert,
            max_items=page_size(aws, max_items),
            token=next_token,
            max_bytes=aws.settings.max_bytes,
        )

    (items, token), used = await aws.call(
        "lambda", target(profile, region, role_arn), run, action="list Lambda functions"
    )
    return LambdaPage(region=used, functions=items, count=len(items), truncated=token is not None, next_token=token)


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


async def aws_ecs_clusters_list(
    ctx: Context[Any, Any],
    max_items: MaxItems = None,
    next_token: NextToken = None,
    region: Region = None,
    profile: Profile = None,
    role_arn: RoleArn = None,
) -> EcsClusterPage:
    """Summarize ECS clusters: status, running/pending tasks, services (names) and container instances."""
    aws = aws_state(ctx)

    def run(c: Any) -> tuple[list[Any], str | None]:
        arns, token = paginate(
            c,
            "list_clusters",
            {},
            lambda r: list(r.get("clusterArns", [])),
            max_items=min(page_size(aws, max_items), 100),
            token=next_token,
            max_bytes=aws.settings.max_bytes,
        )
        out = []
        if arns:
            for cl in c.describe_clusters(clusters=arns).get("clusters", []):
                svc = c.list_services(cluster=cl["clusterArn"], maxResults=20)
                names = [a.rsplit("/", 1)[-1] for a in svc.get("serviceArns", [])]
                out.append(
                    EcsCluster(
                        name=cl["clusterName"],
                        arn=cl["clusterArn"],
                        status=cl.get("status"),
                        active_services=cl.get("activeServicesCount"),
                        running_tasks=cl.get("runningTasksCount"),
                        pending_tasks=cl.get("pendingTasksCount"),
                        container_instances=cl.get("registeredContainerInstancesCount"),
                        services=names,
                        services_truncated=bool(svc.get("nextToken")),
                    )
                )
        return out, token

    (items, token), used = await aws.call("ecs", target(profile, region, role_arn), run, action="list ECS clusters")
    return EcsClusterPage(region=used, clusters=items, count=len(items), truncated=token is not None, next_token=token)


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


async def aws_eks_clusters_list(
    ctx: Context[Any, Any],
    max_items: MaxItems = None,
    next_token: NextToken = None,
    region: Region = None,
    profile: Profile = None,
    role_arn: RoleArn = None,
) -> EksClusterPage:
    """Summarize EKS clusters: status, Kubernetes version, endpoint, creation time and node groups."""
    aws = aws_state(ctx)

    def run(c: Any) -> tuple[list[Any], str | None]:
        names, token = paginate(
            c,
            "list_clusters",
            {},
            lambda r: list(r.get("clusters", [])),
            max_items=min(page_size(aws, max_items), 100),
            token=next_token,
            max_bytes=aws.settings.max_bytes,
        )
        out = []
        for n in names:
            cl = c.describe_cluster(name=n)["cluster"]
            ngs = c.list_nodegroups(clusterName=n, maxResults=50).get("nodegroups", [])
            out.append(
                EksCluster(
                    name=n,
                    status=cl.get("status"),
                    version=cl.get("version"),
                    platform_version=cl.get("platformVersion"),
                    endpoint=cl.get("endpoint"),
                    created=_iso(cl.get("createdAt")),
                    nodegroups=ngs,
                )
            )
        return out, token

    (items, token), used = await aws.call("eks", target(profile, region, role_arn), run, action="list EKS clusters")
    return EksClusterPage(region=used, clusters=items, count=len(items), truncated=token is not None, next_token=token)


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


async def aws_rds_instances_list(
    ctx: Context[Any, Any],
    engine: Annotated[
        str | None, Field(description="Only this engine, e.g. postgres, mysql, aurora-postgresql")
    ] = None,
    max_items: MaxItems = None,
    next_token: NextToken = None,
    region: Region = None,
    profile: Profile = None,
    role_arn: RoleArn = None,
) -> DbInstancePage:
    """Summarize RDS DB instances: engine/version, class, status, endpoint, Multi-AZ, storage."""
    aws = aws_state(ctx)
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

    def run(c: Any) -> tuple[list[Any], str | None]:
        return paginate(
            c,
            "describe_db_instances",
            params,
            convert,
            max_items=page_size(aws, max_items),
            token=next_token,
            max_bytes=aws.settings.max_bytes,
        )

    (items, token), used = await aws.call(
        "rds", target(profile, region, role_arn), run, action="describe RDS instances"
    )
    return DbInstancePage(region=used, instances=items, count=len(items), truncated=token is not None, next_token=token)


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


async def aws_dynamodb_tables_list(
    ctx: Context[Any, Any],
    max_items: Annotated[int | None, Field(ge=1, le=100, description="Tables per page (default 20)")] = None,
    next_token: NextToken = None,
    region: Region = None,
    profile: Profile = None,
    role_arn: RoleArn = None,
) -> DynamoTablePage:
    """Summarize DynamoDB tables: status, item count, size, key schema, billing mode, indexes."""
    aws = aws_state(ctx)

    def run(c: Any) -> tuple[list[Any], str | None]:
        names, token = paginate(
            c,
            "list_tables",
            {},
            lambda r: list(r.get("TableNames", [])),
            max_items=max_items or 20,
            token=next_token,
            max_bytes=aws.settings.max_bytes,
        )
        out = []
        for n in names:
            t = c.describe_table(TableName=n)["Table"]
            idx = [i["IndexName"] for i in t.get("GlobalSecondaryIndexes", []) + t.get("LocalSecondaryIndexes", [])]
            out.append(
                DynamoTable(
                    name=n,
                    status=t.get("TableStatus"),
                    item_count=t.get("ItemCount"),
                    size_bytes=t.get("TableSizeBytes"),
                    keys={k["AttributeName"]: k["KeyType"] for k in t.get("KeySchema", [])},
                    billing_mode=(t.get("BillingModeSummary") or {}).get("BillingMode", "PROVISIONED"),
                    indexes=idx,
                )
            )
        return out, token

    (items, token), used = await aws.call(
        "dynamodb", target(profile, region, role_arn), run, action="list DynamoDB tables"
    )
    return DynamoTablePage(region=used, tables=items, count=len(items), truncated=token is not None, next_token=token)


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


async def aws_sqs_queues_list(
    ctx: Context[Any, Any],
    prefix: Annotated[str | None, Field(description="Only queues whose name starts with this")] = None,
    max_items: Annotated[int | None, Field(ge=1, le=100, description="Queues per page (default 20)")] = None,
    next_token: NextToken = None,
    region: Region = None,
    profile: Profile = None,
    role_arn: RoleArn = None,
) -> QueuePage:
    """Summarize SQS queues: approximate visible / in-flight / delayed messages, FIFO, dead-letter target."""
    import json

    aws = aws_state(ctx)
    params: dict[str, Any] = {"QueueNamePrefix": prefix} if prefix else {}

    def run(c: Any) -> tuple[list[Any], str | None]:
        urls, token = paginate(
            c,
            "list_queues",
            params,
            lambda r: list(r.get("QueueUrls", [])),
            max_items=max_items or 20,
            token=next_token,
            max_bytes=aws.settings.max_bytes,
        )
        out = []
        for u in urls:
            a = c.get_queue_attributes(QueueUrl=u, AttributeNames=["All"]).get("Attributes", {})
            redrive = a.get("RedrivePolicy")
            dlq = json.loads(redrive).get("deadLetterTargetArn") if redrive else None

            def num(k: str, attrs: dict[str, Any] = a) -> int | None:
                return int(attrs[k]) if k in attrs else None

            out.append(
                Queue(
                    name=u.rsplit("/", 1)[-1],
                    url=u,
                    fifo=a.get("FifoQueue") == "true",
                    messages_visible=num("ApproximateNumberOfMessages"),
                    messages_in_flight=num("ApproximateNumberOfMessagesNotVisible"),
                    messages_delayed=num("ApproximateNumberOfMessagesDelayed"),
                    dead_letter_target=dlq,
                )
            )
        return out, token

    (items, token), used = await aws.call("sqs", target(profile, region, role_arn), run, action="list SQS queues")
    return QueuePage(region=used, queues=items, count=len(items), truncated=token is not None, next_token=token)


class ServiceCost(BaseModel):
    service: str
    amount: float
    unit: str


class CostReport(BaseModel):
    start: str
    end: str
    granularity: str
    metric: str
    total: float
    unit: str | None
    services: list[ServiceCost] = Field(description="Cost per service over the period, highest first")
    count: int
    truncated: bool = Field(description="True when services beyond `max_items` (or more CE pages) were left out")
    estimated: bool = Field(description="True when any period is still an estimate")
    periods: int


async def aws_cost_by_service(
    ctx: Context[Any, Any],
    start: Annotated[str | None, Field(description="First day, YYYY-MM-DD (default: 30 days ago)")] = None,
    end: Annotated[str | None, Field(description="Day after the last, YYYY-MM-DD (default: today)")] = None,
    granularity: Annotated[Literal["DAILY", "MONTHLY"], Field(description="Period size of Cost Explorer")] = "MONTHLY",
    metric: Annotated[
        Literal["UnblendedCost", "BlendedCost", "AmortizedCost", "NetUnblendedCost", "NetAmortizedCost"],
        Field(description="Cost metric"),
    ] = "UnblendedCost",
    max_items: Annotated[int, Field(ge=1, le=500, description="Services to return")] = 25,
    profile: Profile = None,
    role_arn: RoleArn = None,
) -> CostReport:
    """Cost per AWS service for a period from Cost Explorer, summed over the period, highest first."""
    aws = aws_state(ctx)
    today = dt.date.today()
    try:
        d_end = dt.date.fromisoformat(end) if end else today
        d_start = dt.date.fromisoformat(start) if start else d_end - dt.timedelta(days=30)
    except ValueError as exc:
        raise tool_error("parse the period", str(exc), hint="use YYYY-MM-DD dates") from exc
    if d_start >= d_end:
        raise tool_error(
            "check the period",
            f"start {d_start} must be before end {d_end}",
            hint="`end` is exclusive: the day after the last day to include",
        )

    def run(c: Any) -> tuple[list[dict[str, Any]], bool]:
        results: list[dict[str, Any]] = []
        token: str | None = None
        for _ in range(10):
            kw: dict[str, Any] = {"NextPageToken": token} if token else {}
            r = c.get_cost_and_usage(
                TimePeriod={"Start": d_start.isoformat(), "End": d_end.isoformat()},
                Granularity=granularity,
                Metrics=[metric],
                GroupBy=[{"Type": "DIMENSION", "Key": "SERVICE"}],
                **kw,
            )
            results.extend(r.get("ResultsByTime", []))
            token = r.get("NextPageToken")
            if not token:
                return results, False
        return results, True

    # Cost Explorer has one endpoint, in us-east-1.
    (periods, more), _ = await aws.call("ce", target(profile, "us-east-1", role_arn), run, action="get cost and usage")
    totals: dict[str, float] = {}
    unit: str | None = None
    estimated = False
    for p in periods:
        estimated = estimated or bool(p.get("Estimated"))
        for g in p.get("Groups", []):
            m = (g.get("Metrics") or {}).get(metric) or {}
            name = (g.get("Keys") or ["?"])[0]
            totals[name] = totals.get(name, 0.0) + float(m.get("Amount", 0) or 0)
            unit = unit or m.get("Unit")
        if not p.get("Groups"):
            m = (p.get("Total") or {}).get(metric) or {}
            if m:
                totals["(total, ungrouped)"] = totals.get("(total, ungrouped)", 0.0) + float(m.get("Amount", 0))
                unit = unit or m.get("Unit")
    ranked = sorted(totals.items(), key=lambda kv: kv[1], reverse=True)
    items = [ServiceCost(service=k, amount=round(v, 4), unit=unit or "USD") for k, v in ranked[:max_items]]
    return CostReport(
        start=d_start.isoformat(),
        end=d_end.isoformat(),
        granularity=granularity,
        metric=metric,
        total=round(sum(totals.values()), 4),
        unit=unit,
        services=items,
        count=len(items),
        truncated=len(ranked) > max_items or more,
        estimated=estimated,
        periods=len(periods),
    )
