"""The aws tools by toolset, in the order clients see them (titles and annotations: `@tool`):
generic validated API access plus curated daily-work tools."""

from __future__ import annotations

from servers._common import ToolCatalog, Toolsets
from servers.aws.api import aws_call, aws_call_write, aws_operation_describe, aws_operations_list, aws_services_list
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

TOOLSETS: Toolsets = {
    "identity": (aws_caller_identity, aws_profiles_list),
    "api": (aws_services_list, aws_operations_list, aws_operation_describe, aws_call, aws_call_write),
    "s3": (
        aws_s3_buckets_list,
        aws_s3_objects_list,
        aws_s3_object_read,
        aws_s3_presign,
        aws_s3_object_put,
        aws_s3_object_delete,
    ),
    "logs": (aws_logs_groups_list, aws_logs_events_filter, aws_logs_insights_query),
    "inventory": (
        aws_ec2_instances_list,
        aws_lambda_functions_list,
        aws_ecs_clusters_list,
        aws_eks_clusters_list,
        aws_rds_instances_list,
        aws_dynamodb_tables_list,
        aws_sqs_queues_list,
    ),
    "cost": (aws_cost_by_service,),
}
"""Named groups of tools, selectable with `--toolsets aws.<name>`; clients see them in this order."""

CATALOG = ToolCatalog.of(TOOLSETS, default=("identity", "api", "s3", "logs"))
