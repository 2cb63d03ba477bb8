"""The aws module's tool list: generic validated API access plus curated daily-work tools."""

from __future__ import annotations

from servers._common import DELETE, DESTRUCTIVE, OVERWRITE, READ, READ_OPEN, ToolCatalog, ToolSpec
from servers._common.tools import open_world
from servers.aws.api import (
    aws_call,
    aws_call_write,
    aws_operation_describe,
    aws_operations_list,
    aws_services_list,
)
from servers.aws.cost import aws_cost_by_service
from servers.aws.curated import (
    aws_caller_identity,
    aws_profiles_list,
    aws_s3_buckets_list,
    aws_s3_object_delete,
    aws_s3_object_put,
    aws_s3_object_read,
    aws_s3_objects_list,
    aws_s3_presign,
)
from servers.aws.inventory import (
    aws_dynamodb_tables_list,
    aws_ec2_instances_list,
    aws_ecs_clusters_list,
    aws_eks_clusters_list,
    aws_lambda_functions_list,
    aws_rds_instances_list,
    aws_sqs_queues_list,
)
from servers.aws.logs import aws_logs_events_filter, aws_logs_groups_list, aws_logs_insights_query

WRITE_OPEN = open_world(DESTRUCTIVE)

TOOLS = [
    ToolSpec(aws_caller_identity, "caller_identity", "AWS: who am I (STS caller identity)", READ_OPEN),
    ToolSpec(aws_profiles_list, "profiles_list", "AWS: list configured profiles", READ),
    ToolSpec(aws_services_list, "services_list", "AWS: list callable services", READ),
    ToolSpec(aws_operations_list, "operations_list", "AWS: list a service's operations", READ),
    ToolSpec(aws_operation_describe, "operation_describe", "AWS: describe an operation's input", READ),
    ToolSpec(aws_call, "call", "AWS: call a read-only API operation", READ_OPEN),
    ToolSpec(aws_call_write, "call_write", "AWS: call any API operation (writes)", WRITE_OPEN),
    ToolSpec(aws_s3_buckets_list, "s3_buckets_list", "AWS S3: list buckets", READ_OPEN),
    ToolSpec(aws_s3_objects_list, "s3_objects_list", "AWS S3: list objects by prefix", READ_OPEN),
    ToolSpec(aws_s3_object_read, "s3_object_read", "AWS S3: read an object as text", READ_OPEN),
    ToolSpec(aws_s3_presign, "s3_presign", "AWS S3: presigned download URL", READ_OPEN),
    ToolSpec(aws_s3_object_put, "s3_object_put", "AWS S3: upload an object", open_world(OVERWRITE)),
    ToolSpec(aws_s3_object_delete, "s3_object_delete", "AWS S3: delete an object", open_world(DELETE)),
    ToolSpec(aws_logs_groups_list, "logs_groups_list", "AWS Logs: list log groups", READ_OPEN),
    ToolSpec(aws_logs_events_filter, "logs_events_filter", "AWS Logs: filter or tail log events", READ_OPEN),
    ToolSpec(aws_logs_insights_query, "logs_insights_query", "AWS Logs: run a Logs Insights query", READ_OPEN),
    ToolSpec(aws_ec2_instances_list, "ec2_instances_list", "AWS EC2: instance summary", READ_OPEN),
    ToolSpec(aws_lambda_functions_list, "lambda_functions_list", "AWS Lambda: function summary", READ_OPEN),
    ToolSpec(aws_ecs_clusters_list, "ecs_clusters_list", "AWS ECS: cluster summary", READ_OPEN),
    ToolSpec(aws_eks_clusters_list, "eks_clusters_list", "AWS EKS: cluster summary", READ_OPEN),
    ToolSpec(aws_rds_instances_list, "rds_instances_list", "AWS RDS: DB instance summary", READ_OPEN),
    ToolSpec(aws_dynamodb_tables_list, "dynamodb_tables_list", "AWS DynamoDB: table summary", READ_OPEN),
    ToolSpec(aws_sqs_queues_list, "sqs_queues_list", "AWS SQS: queue summary", READ_OPEN),
    ToolSpec(aws_cost_by_service, "cost_by_service", "AWS Cost Explorer: cost by service", READ_OPEN),
]

TOOLSETS: dict[str, tuple[str, ...]] = {
    "identity": ("caller_identity", "profiles_list"),
    "api": ("services_list", "operations_list", "operation_describe", "call", "call_write"),
    "s3": ("s3_buckets_list", "s3_objects_list", "s3_object_read", "s3_presign", "s3_object_put", "s3_object_delete"),
    "logs": ("logs_groups_list", "logs_events_filter", "logs_insights_query"),
    "inventory": (
        "ec2_instances_list",
        "lambda_functions_list",
        "ecs_clusters_list",
        "eks_clusters_list",
        "rds_instances_list",
        "dynamodb_tables_list",
        "sqs_queues_list",
    ),
    "cost": ("cost_by_service",),
}
"""Named groups of the tools above, selectable with `--toolsets aws.<name>`."""
DEFAULT_TOOLSETS = ("identity", "api", "s3", "logs")

CATALOG = ToolCatalog(TOOLS, TOOLSETS, DEFAULT_TOOLSETS)
