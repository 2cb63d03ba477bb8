"""Summaries of EC2, Lambda, ECS, EKS, RDS, DynamoDB and SQS against seeded moto: fields, paging, byte cap."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from typing import Any

import pytest
from mcp import Client

from servers.aws import build_server
from tests.conftest import error_text, ok
from tests.servers.aws.paging import all_pages

pytestmark = pytest.mark.anyio

AMI = "ami-12c6146b"  # one of moto's built-in images


async def test_ec2_instances(ro: Client, boto: Callable[..., Any], uid: str) -> None:
    ec2 = boto("ec2", "eu-north-1")
    run = ec2.run_instances(
        ImageId=AMI,
        MinCount=3,
        MaxCount=3,
        InstanceType="t3.micro",
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": f"bam-{uid}"}]}],
    )
    ids = [i["InstanceId"] for i in run["Instances"]]
    again = ec2.run_instances(
        ImageId=AMI,
        MinCount=1,
        MaxCount=1,
        InstanceType="t3.micro",
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": f"bam-{uid}"}]}],
    )
    ids += [i["InstanceId"] for i in again["Instances"]]
    try:
        ec2.stop_instances(InstanceIds=ids[:1])
        args = {"region": "eu-north-1", "filters": {"tag:Name": [f"bam-{uid}"]}}
        r = ok(await ro.call_tool("aws_ec2_instances_list", args))
        assert sorted(i["id"] for i in r["instances"]) == sorted(ids) and r["region"] == "eu-north-1"
        assert r["state_counts"] == {"running": 3, "stopped": 1}
        one = r["instances"][0]
        assert one["name"] == f"bam-{uid}" and one["type"] == "t3.micro" and one["image_id"] == AMI
        running = ok(await ro.call_tool("aws_ec2_instances_list", {**args, "states": ["running"]}))
        assert running["count"] == 3
        # EC2 pages by reservation: max_items=1 gives the 3 instances of one launch, then the other.
        paged = await all_pages(
            ro, "aws_ec2_instances_list", {**args, "max_items": 1}, "instances", min_pages=2, per_page=3
        )
        assert sorted(i["id"] for i in paged) == sorted(ids)
        bad = error_text(await ro.call_tool("aws_ec2_instances_list", {"states": ["exploded"]}))
        assert "states" in bad
    finally:
        ec2.terminate_instances(InstanceIds=ids)


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("app.py", "def handler(event, context):\n    return event\n")
    return buf.getvalue()


async def test_lambda_functions(ro: Client, boto: Callable[..., Any], uid: str) -> None:
    iam, lam = boto("iam"), boto("lambda")
    role = iam.create_role(
        RoleName=f"bam-fn-{uid}",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
                ],
            }
        ),
    )["Role"]["Arn"]
    names = [f"bam-fn-{uid}-{i}" for i in range(3)]
    for n in names:
        lam.create_function(
            FunctionName=n,
            Runtime="python3.12",
            Role=role,
            Handler="app.handler",
            Code={"ZipFile": _zip()},
            MemorySize=256,
            Timeout=15,
        )
    try:
        fns = await all_pages(
            ro,
            "aws_lambda_functions_list",
            {"name_contains": f"bam-fn-{uid}", "max_items": 2},
            "functions",
            min_pages=2,
        )
        assert sorted(f["name"] for f in fns) == names
        assert all(f["runtime"] == "python3.12" and f["memory_mb"] == 256 and f["timeout_s"] == 15 for f in fns)
    finally:
        for n in names:
            lam.delete_function(FunctionName=n)
        iam.delete_role(RoleName=f"bam-fn-{uid}")


async def test_ecs_and_eks_clusters(ro: Client, boto: Callable[..., Any], uid: str) -> None:
    region = "ca-central-1"
    ecs, eks = boto("ecs", region), boto("eks", region)
    cluster, other = f"bam-ecs-{uid}", f"bam-ecs-{uid}-b"
    ecs.create_cluster(clusterName=cluster)
    ecs.create_cluster(clusterName=other)
    td = ecs.register_task_definition(
        family=f"bam-{uid}", containerDefinitions=[{"name": "web", "image": "nginx", "memory": 128}]
    )["taskDefinition"]["taskDefinitionArn"]
    ecs.create_service(cluster=cluster, serviceName="web", taskDefinition=td, desiredCount=0)
    eks_names = [f"bam-eks-{uid}", f"bam-eks-{uid}-b"]
    for n in eks_names:
        eks.create_cluster(
            name=n,
            roleArn="arn:aws:iam::123456789012:role/eks",
            resourcesVpcConfig={"subnetIds": ["subnet-1"]},
            version="1.30",
        )
    try:
        clusters = await all_pages(ro, "aws_ecs_clusters_list", {"region": region}, "clusters")
        mine = [c for c in clusters if c["name"] == cluster]
        assert mine and mine[0]["status"] == "ACTIVE" and mine[0]["services"] == ["web"]
        assert isinstance(mine[0]["active_services"], int) and mine[0]["services_truncated"] is False
        one_by_one = await all_pages(ro, "aws_ecs_clusters_list", {"region": region, "max_items": 1}, "clusters")
        names = [c["name"] for c in one_by_one]
        assert len(names) == len(set(names)) >= 2 and {cluster, other} <= set(names)
        k8s = await all_pages(ro, "aws_eks_clusters_list", {"region": region, "max_items": 1}, "clusters", min_pages=2)
        assert len(k8s) == len({c["name"] for c in k8s})
        kmine = [c for c in k8s if c["name"] in eks_names]
        assert len(kmine) == 2 and kmine[0]["version"] == "1.30" and kmine[0]["status"] and kmine[0]["endpoint"]
        assert kmine[0]["nodegroups"] == []
    finally:
        ecs.delete_service(cluster=cluster, service="web", force=True)
        for c in (cluster, other):
            ecs.delete_cluster(cluster=c)
        for n in eks_names:
            eks.delete_cluster(name=n)


async def test_rds_instances(ro: Client, boto: Callable[..., Any], uid: str) -> None:
    rds = boto("rds", "eu-west-3")
    idents = [f"bam-db-{uid}", f"bam-db-{uid}-b"]
    for ident in idents:
        rds.create_db_instance(
            DBInstanceIdentifier=ident,
            DBInstanceClass="db.t3.micro",
            Engine="postgres",
            AllocatedStorage=20,
            MasterUsername="admin",
            MasterUserPassword="s3cret-pass-123",
        )
    try:
        args = {"region": "eu-west-3", "engine": "postgres", "max_items": 1}
        dbs = await all_pages(ro, "aws_rds_instances_list", args, "instances", min_pages=2)
        assert len(dbs) == len({d["id"] for d in dbs})
        mine = [d for d in dbs if d["id"] in idents]
        assert len(mine) == 2 and mine[0]["engine"] == "postgres" and mine[0]["storage_gb"] == 20
        assert mine[0]["instance_class"] == "db.t3.micro" and mine[0]["endpoint"]
        assert "s3cret" not in json.dumps(dbs)
        none = ok(await ro.call_tool("aws_rds_instances_list", {"region": "eu-west-3", "engine": "mysql"}))
        assert not set(idents) & {d["id"] for d in none["instances"]}
    finally:
        for ident in idents:
            rds.delete_db_instance(DBInstanceIdentifier=ident, SkipFinalSnapshot=True)


async def test_dynamodb_tables(ro: Client, boto: Callable[..., Any], uid: str) -> None:
    ddb = boto("dynamodb", "sa-east-1")
    names = [f"bam-t-{uid}-{i}" for i in range(3)]
    for n in names:
        ddb.create_table(
            TableName=n,
            BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
        )
    ddb.put_item(TableName=names[0], Item={"pk": {"S": "a"}, "sk": {"S": "b"}})
    try:
        tables = await all_pages(
            ro, "aws_dynamodb_tables_list", {"region": "sa-east-1", "max_items": 2}, "tables", min_pages=2
        )
        mine = {t["name"]: t for t in tables if t["name"] in names}
        assert set(mine) == set(names)
        t0 = mine[names[0]]
        assert t0["keys"] == {"pk": "HASH", "sk": "RANGE"} and t0["billing_mode"] == "PAY_PER_REQUEST"
        assert t0["status"] == "ACTIVE" and t0["item_count"] == 1
    finally:
        for n in names:
            ddb.delete_table(TableName=n)


async def test_sqs_queues(ro: Client, boto: Callable[..., Any], uid: str) -> None:
    sqs = boto("sqs")
    dlq = sqs.create_queue(QueueName=f"bam-q-{uid}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    main = sqs.create_queue(
        QueueName=f"bam-q-{uid}-main",
        Attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "3"})},
    )["QueueUrl"]
    fifo = sqs.create_queue(QueueName=f"bam-q-{uid}-x.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    sqs.send_message(QueueUrl=main, MessageBody="hello")
    sqs.send_message(QueueUrl=main, MessageBody="world")
    try:
        queues = await all_pages(
            ro, "aws_sqs_queues_list", {"prefix": f"bam-q-{uid}", "max_items": 2}, "queues", min_pages=2
        )
        by = {q["name"]: q for q in queues}
        assert set(by) == {f"bam-q-{uid}-dlq", f"bam-q-{uid}-main", f"bam-q-{uid}-x.fifo"}
        assert by[f"bam-q-{uid}-main"]["messages_visible"] == 2
        assert by[f"bam-q-{uid}-main"]["dead_letter_target"] == dlq_arn
        assert by[f"bam-q-{uid}-x.fifo"]["fifo"] is True and by[f"bam-q-{uid}-dlq"]["fifo"] is False
    finally:
        for u in (main, dlq, fifo):
            sqs.delete_queue(QueueUrl=u)


async def test_described_summaries_keep_the_byte_cap(
    aws_endpoint: str, boto: Callable[..., Any], uid: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The SQS summary lists queue URLs, then describes each: the cap must hold for the described items.
    monkeypatch.setenv("BAM_AWS_MAX_BYTES", "2048")
    sqs = boto("sqs", "eu-south-1")
    urls = [sqs.create_queue(QueueName=f"bam-cap-{uid}-{'q' * 40}-{i:02d}")["QueueUrl"] for i in range(12)]
    try:
        async with Client(build_server()) as c:
            args = {"prefix": f"bam-cap-{uid}", "max_items": 12, "region": "eu-south-1"}
            first = ok(await c.call_tool("aws_sqs_queues_list", args))
            assert 1 <= first["count"] < 12 and first["truncated"] and first["next_token"]
            assert len(json.dumps(first["queues"], separators=(",", ":"))) <= 2048
            queues = await all_pages(c, "aws_sqs_queues_list", args, "queues", min_pages=2)
            assert sorted(q["url"] for q in queues) == sorted(urls)
    finally:
        for u in urls:
            sqs.delete_queue(QueueUrl=u)
