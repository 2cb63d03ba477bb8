"""Annotations decide exposure, so every tool's must follow the one rule (`annotations_for`).

The table below is the reviewed judgement of what each tool does to its backend; the test checks every
tool of every module against it, so a new tool without a row, or annotations that disagree with the rule,
fails here. destructive = may lose data or availability (delete, overwrite, scale down, roll back, restart,
stop, flush, prune, arbitrary commands); deletes are idempotent.
"""

from __future__ import annotations

import pytest

from servers._common.tools import Effect, ToolSpec, annotations_for, make_policy
from servers.registry import MODULES, load

R, A, S, OW, D, ST, DI, X = (
    Effect.READ,
    Effect.ADD,
    Effect.SET,
    Effect.OVERWRITE,
    Effect.DELETE,
    Effect.STOP,
    Effect.DISRUPT,
    Effect.ARBITRARY,
)

EFFECTS: dict[str, Effect | tuple[Effect, ...]] = {
    # PostgreSQL
    "pg_schemas_list": R,
    "pg_tables_list": R,
    "pg_table_describe": R,
    "pg_query": R,
    "pg_explain": R,
    "pg_activity": R,
    "pg_health": R,
    "pg_top_queries": R,
    "pg_migrations_status": R,
    "pg_migration_plan": S,  # always rolled back
    "pg_migration_apply": X,  # runs whatever the reviewed files say (DROP included)
    "pg_migration_rollback": DI,
    "pg_execute": X,
    # Redis
    "redis_keys_scan": R,
    "redis_key_info": R,
    "redis_key_get": R,
    "redis_stream_range": R,
    "redis_stream_info": R,
    "redis_stream_pending": R,
    "redis_subscribe": R,
    "redis_info": R,
    "redis_slowlog": R,
    "redis_latency": R,
    "redis_clients_list": R,
    "redis_memory_doctor": R,
    "redis_keyspace_report": R,
    "redis_key_set": OW,
    "redis_keys_delete": D,
    "redis_key_expire": OW,  # a TTL schedules the key's loss
    "redis_hash_set": OW,  # replaces existing field values
    "redis_hash_delete": D,
    "redis_list_push": A,
    "redis_list_pop": DI,
    "redis_set_add": S,
    "redis_set_remove": D,
    "redis_zset_add": OW,  # replaces existing scores
    "redis_zset_remove": D,
    "redis_stream_add": A,
    "redis_stream_group_create": A,
    "redis_stream_ack": D,  # acknowledged entries are never delivered again
    "redis_publish": A,
    "redis_command": (X, X, R),  # the admin, write and read variants, in COMMAND_TOOLS order
    # Kubernetes
    "k8s_contexts_list": R,
    "k8s_api_resources": R,
    "k8s_resources_list": R,
    "k8s_resource_get": R,
    "k8s_resource_describe": R,
    "k8s_events_list": R,
    "k8s_pod_logs": R,
    "k8s_namespaces_list": R,
    "k8s_rollout_status": R,
    "k8s_apply": OW,  # overwrites live objects
    "k8s_resource_delete": D,
    "k8s_scale": OW,  # can scale to zero
    "k8s_rollout_restart": DI,  # replaces every pod (emptyDir data, in-flight work)
    "k8s_rollout_undo": DI,
    "k8s_node_cordon": S,
    "k8s_node_uncordon": S,
    # AWS
    "aws_caller_identity": R,
    "aws_profiles_list": R,
    "aws_services_list": R,
    "aws_operations_list": R,
    "aws_operation_describe": R,
    "aws_call": R,
    "aws_call_write": X,
    "aws_s3_buckets_list": R,
    "aws_s3_objects_list": R,
    "aws_s3_object_read": R,
    "aws_s3_presign": R,
    "aws_s3_object_put": OW,  # replaces an existing object
    "aws_s3_object_delete": D,
    "aws_logs_groups_list": R,
    "aws_logs_events_filter": R,
    "aws_logs_insights_query": R,
    "aws_ec2_instances_list": R,
    "aws_lambda_functions_list": R,
    "aws_ecs_clusters_list": R,
    "aws_eks_clusters_list": R,
    "aws_rds_instances_list": R,
    "aws_dynamodb_tables_list": R,
    "aws_sqs_queues_list": R,
    "aws_cost_by_service": R,
    # Docker
    "docker_engine_info": R,
    "docker_engine_df": R,
    "docker_containers_list": R,
    "docker_container_inspect": R,
    "docker_container_logs": R,
    "docker_container_stats": R,
    "docker_container_top": R,
    "docker_container_diff": R,
    "docker_container_run": A,
    "docker_container_start": S,
    "docker_container_stop": ST,
    "docker_container_restart": DI,
    "docker_container_pause": ST,
    "docker_container_unpause": S,
    "docker_container_remove": D,
    "docker_container_exec": X,
    "docker_images_list": R,
    "docker_image_inspect": R,
    "docker_image_history": R,
    "docker_image_build": A,
    "docker_image_pull": S,  # the previous image stays, untagged
    "docker_image_push": OW,  # replaces the tag in the registry
    "docker_image_tag": S,
    "docker_image_remove": D,
    "docker_images_prune": D,
    "docker_volumes_list": R,
    "docker_volume_inspect": R,
    "docker_volume_create": A,
    "docker_volume_remove": D,
    "docker_networks_list": R,
    "docker_network_inspect": R,
    "docker_network_create": A,
    "docker_network_remove": D,
    "docker_managed_list": R,
    "docker_managed_cleanup": D,
}


def every_spec() -> list[tuple[str, str, ToolSpec]]:
    """(module, full tool name, spec) for every ToolSpec of every module: all tiers, every variant."""
    out: list[tuple[str, str, ToolSpec]] = []
    for module in MODULES:
        info = load(module)
        catalog = info.catalog()
        out += [(module, f"{info.prefix}{spec.name}", spec) for spec in [*catalog.tools, *catalog.variants]]
    return out


SPECS = every_spec()


def expected_effect(name: str, spec: ToolSpec) -> Effect:
    effect = EFFECTS[name]
    if isinstance(effect, tuple):
        variants = [s for _, n, s in SPECS if n == name]
        return effect[variants.index(spec)]
    return effect


def test_every_tool_has_a_row_and_every_row_a_tool() -> None:
    names = {name for _, name, _ in SPECS}
    assert names - set(EFFECTS) == set(), "add these tools to EFFECTS with their effect"
    assert set(EFFECTS) - names == set(), "these rows name no tool"


@pytest.mark.parametrize(("name", "spec"), [(n, s) for _, n, s in SPECS], ids=[n for _, n, _ in SPECS])
def test_annotations_follow_the_rule(name: str, spec: ToolSpec) -> None:
    effect = expected_effect(name, spec)
    want = annotations_for(effect, open_world=bool(spec.annotations.open_world_hint))
    assert spec.annotations == want, f"{name} is {effect.value}: annotations must be {want}"


def test_the_rule() -> None:
    for effect in (Effect.OVERWRITE, Effect.DELETE, Effect.STOP, Effect.DISRUPT, Effect.ARBITRARY):
        assert annotations_for(effect).destructive_hint, effect
    for effect in (Effect.READ, Effect.ADD, Effect.SET):
        assert not annotations_for(effect).destructive_hint, effect
    assert annotations_for(Effect.DELETE).idempotent_hint
    assert annotations_for(Effect.READ).read_only_hint
    assert not any(annotations_for(e).read_only_hint for e in Effect if e is not Effect.READ)


def test_no_destructive_hides_every_availability_or_data_loss_tool() -> None:
    policy = make_policy(allow_writes="all", allow_destructive=False)
    exposed = {name for module, name, spec in SPECS if policy.permits(module, name, spec)}
    for hidden in ("k8s_scale", "k8s_apply", "k8s_rollout_undo", "k8s_rollout_restart", "docker_container_stop"):
        assert hidden not in exposed
    assert {"k8s_node_cordon", "docker_container_start", "redis_list_push"} <= exposed
