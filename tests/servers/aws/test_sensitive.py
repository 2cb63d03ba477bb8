"""Adversarial corpus against moto: canary secrets seeded in the backend never reach any tool output.

Seeded: Secrets Manager (SecretString and SecretBinary), an SSM SecureString, API Gateway API keys and a
usage plan, an AppSync API key, an ECS task definition and a Batch job definition with secret-named
environment, a CloudFormation stack with secret-named parameters (NoEcho and not), Lambda environment
variables, queue tags, an S3 object and a log event holding `NAME=value` secrets. Every relevant tool
is called in read-only and in write mode (plus KMS GenerateDataKey and IAM CreateAccessKey); no canary
may appear in the structured content or the text, raw, nested or base64-encoded. Sensitive reads are
refused read-only with a clear error, numbers and booleans come back untouched, and the backend's
state is unchanged by the read-only corpus.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import io
import json
import re
import time
import zipfile
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp import Client
from mcp.types import CallToolResult

from servers._common import ToolPolicy
from servers.aws import build_server
from tests.conftest import error_text, ok

pytestmark = pytest.mark.anyio

REDACTED = "***REDACTED***"
_B64_RUN = re.compile(r"[A-Za-z0-9+/=_-]{16,}")


def _texts(r: CallToolResult) -> str:
    return json.dumps(r.structured_content) + " ".join(getattr(c, "text", "") for c in r.content)


def _decoded_runs(text: str) -> Iterator[bytes]:
    for run in _B64_RUN.findall(text):
        for shift in range(4):
            part = run[shift:]
            part = part[: len(part) - len(part) % 4]
            for alt in (False, True):
                try:
                    yield base64.urlsafe_b64decode(part) if alt else base64.b64decode(part)
                except (binascii.Error, ValueError):
                    continue


def assert_clean(r: CallToolResult, canaries: list[str], what: str) -> None:
    """No canary in the output: raw, nested anywhere, or inside a base64 (or base64url) run."""
    text = _texts(r)
    for c in canaries:
        assert c not in text, f"{what}: canary {c!r} in output"
        assert c.lower() not in text.lower(), f"{what}: canary {c!r} (case-folded) in output"
        assert not any(c.encode() in d for d in _decoded_runs(text)), f"{what}: canary {c!r} base64-encoded"


class Seeded:
    def __init__(self, uid: str) -> None:
        self.uid = uid
        self.c = {k: f"cnry{k}{uid}Zq" for k in ("sm", "smbin", "ssm", "apikey", "ecs", "batch", "cfn", "cfnne")}
        self.c |= {k: f"cnry{k}{uid}Zq" for k in ("lambda", "tag", "s3", "log", "apikey2", "s3json", "logjson")}
        self.extra: list[str] = []  # values known only after seeding (AppSync key ids)
        self.ids: dict[str, Any] = {}

    @property
    def canaries(self) -> list[str]:
        return [*self.c.values(), *self.extra]


def _seed(b: Callable[..., Any], s: Seeded) -> None:
    u, c = s.uid, s.c
    sm = b("secretsmanager")
    sm.create_secret(Name=f"bam-sec-{u}", SecretString=json.dumps({"password": c["sm"]}))
    sm.create_secret(Name=f"bam-bin-{u}", SecretBinary=c["smbin"].encode())
    b("ssm").put_parameter(Name=f"/bam/{u}/db", Value=c["ssm"], Type="SecureString")
    ag = b("apigateway")
    key = ag.create_api_key(name=f"bam-{u}", value=c["apikey"], enabled=True)
    plan = ag.create_usage_plan(name=f"bam-{u}", throttle={"burstLimit": 10, "rateLimit": 5.0})
    ag.create_usage_plan_key(usagePlanId=plan["id"], keyId=key["id"], keyType="API_KEY")
    s.ids |= {"api_key": key["id"], "plan": plan["id"]}
    ap = b("appsync")
    api = ap.create_graphql_api(name=f"bam-{u}", authenticationType="API_KEY")["graphqlApi"]
    s.ids["appsync"] = api["apiId"]
    s.extra.append(ap.create_api_key(apiId=api["apiId"])["apiKey"]["id"])
    env = [{"name": "DB_PASSWORD", "value": c["ecs"]}, {"name": "PLAIN_SETTING", "value": "visible-ecs"}]
    b("ecs").register_task_definition(
        family=f"bam-{u}", containerDefinitions=[{"name": "c", "image": "x", "memory": 128, "environment": env}]
    )
    b("batch").register_job_definition(
        jobDefinitionName=f"bam-{u}",
        type="container",
        containerProperties={
            "image": "x",
            "vcpus": 1,
            "memory": 128,
            "environment": [{"name": "SECRET_KEY", "value": c["batch"]}, {"name": "MODE", "value": "visible-b"}],
        },
    )
    _seed_stack(b, s)
    _seed_lambda(b, s)
    s.ids["queue"] = b("sqs").create_queue(QueueName=f"bam-{u}", tags={"api_token": c["tag"], "team": "core"})[
        "QueueUrl"
    ]
    s3 = b("s3")
    s3.create_bucket(Bucket=f"bam-sens-{u}")
    body = f"# app config\nDB_PASSWORD={c['s3']}\nmode=plain\n"
    s3.put_object(Bucket=f"bam-sens-{u}", Key="app.env", Body=body.encode())
    doc = {"db": {"host": "db.internal", "password": c["s3json"] + " with spaces"}, "port": 5432}
    s3.put_object(Bucket=f"bam-sens-{u}", Key="config.json", Body=json.dumps(doc, indent=2).encode())
    logs = b("logs")
    logs.create_log_group(logGroupName=f"/bam/{u}")
    logs.create_log_stream(logGroupName=f"/bam/{u}", logStreamName="s")
    now = int(time.time() * 1000)
    msg = f"connecting with api_key={c['log']} to db"
    jmsg = json.dumps({"level": "info", "auth": {"clientSecret": c["logjson"]}})
    logs.put_log_events(
        logGroupName=f"/bam/{u}",
        logStreamName="s",
        logEvents=[{"timestamp": now, "message": msg}, {"timestamp": now + 1, "message": jmsg}],
    )


def _seed_stack(b: Callable[..., Any], s: Seeded) -> None:
    tpl = {
        "Parameters": {
            "DbPassword": {"Type": "String", "NoEcho": True},
            "ApiToken": {"Type": "String"},
            "Environment": {"Type": "String"},
        },
        "Resources": {"T": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": f"bam-cfn-{s.uid}"}}},
    }
    b("cloudformation").create_stack(
        StackName=f"bam-{s.uid}",
        TemplateBody=json.dumps(tpl),
        Parameters=[
            {"ParameterKey": "DbPassword", "ParameterValue": s.c["cfnne"]},
            {"ParameterKey": "ApiToken", "ParameterValue": s.c["cfn"]},
            {"ParameterKey": "Environment", "ParameterValue": "staging"},
        ],
    )


def _seed_lambda(b: Callable[..., Any], s: Seeded) -> None:
    role = b("iam").create_role(RoleName=f"bam-{s.uid}", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("h.py", "def h(e, c):\n    return 1\n")
    b("lambda").create_function(
        FunctionName=f"bam-{s.uid}",
        Runtime="python3.12",
        Role=role,
        Handler="h.h",
        Code={"ZipFile": buf.getvalue()},
        Environment={"Variables": {"API_KEY": s.c["lambda"], "LOG_LEVEL": "debug"}},
    )


def _cleanup(b: Callable[..., Any], s: Seeded) -> None:
    u = s.uid
    steps: list[Callable[[], Any]] = [
        lambda: b("secretsmanager").delete_secret(SecretId=f"bam-sec-{u}", ForceDeleteWithoutRecovery=True),
        lambda: b("secretsmanager").delete_secret(SecretId=f"bam-bin-{u}", ForceDeleteWithoutRecovery=True),
        lambda: b("ssm").delete_parameter(Name=f"/bam/{u}/db"),
        lambda: b("apigateway").delete_usage_plan_key(usagePlanId=s.ids["plan"], keyId=s.ids["api_key"]),
        lambda: b("apigateway").delete_usage_plan(usagePlanId=s.ids["plan"]),
        lambda: b("apigateway").delete_api_key(apiKey=s.ids["api_key"]),
        lambda: b("appsync").delete_graphql_api(apiId=s.ids["appsync"]),
        lambda: b("ecs").deregister_task_definition(taskDefinition=f"bam-{u}:1"),
        lambda: b("cloudformation").delete_stack(StackName=f"bam-{u}"),
        lambda: b("lambda").delete_function(FunctionName=f"bam-{u}"),
        lambda: b("iam").delete_role(RoleName=f"bam-{u}"),
        lambda: b("sqs").delete_queue(QueueUrl=s.ids["queue"]),
        lambda: b("s3").delete_object(Bucket=f"bam-sens-{u}", Key="app.env"),
        lambda: b("s3").delete_object(Bucket=f"bam-sens-{u}", Key="config.json"),
        lambda: b("s3").delete_bucket(Bucket=f"bam-sens-{u}"),
        lambda: b("logs").delete_log_group(logGroupName=f"/bam/{u}"),
    ]
    for step in steps:
        with contextlib.suppress(Exception):  # one failed cleanup must not hide the others
            step()


@pytest.fixture
def seeded(boto: Callable[..., Any], uid: str) -> Iterator[Seeded]:
    s = Seeded(uid)
    try:
        _seed(boto, s)
        yield s
    finally:
        _cleanup(boto, s)


def sensitive_reads(s: Seeded) -> list[tuple[str, str, dict[str, Any]]]:
    """Reads that return the seeded secrets: refused read-only, masked with writes allowed."""
    u = s.uid
    return [
        ("secretsmanager", "GetSecretValue", {"SecretId": f"bam-sec-{u}"}),
        ("secretsmanager", "GetSecretValue", {"SecretId": f"bam-bin-{u}"}),
        ("secretsmanager", "BatchGetSecretValue", {"SecretIdList": [f"bam-sec-{u}", f"bam-bin-{u}"]}),
        ("ssm", "GetParameter", {"Name": f"/bam/{u}/db", "WithDecryption": True}),
        ("ssm", "GetParameter", {"Name": f"/bam/{u}/db"}),
        ("ssm", "GetParameters", {"Names": [f"/bam/{u}/db"], "WithDecryption": True}),
        ("ssm", "GetParametersByPath", {"Path": f"/bam/{u}", "WithDecryption": True}),
        ("ssm", "GetParameterHistory", {"Name": f"/bam/{u}/db", "WithDecryption": True}),
        ("apigateway", "GetApiKeys", {"includeValues": True}),
        ("apigateway", "GetApiKey", {"apiKey": s.ids["api_key"], "includeValue": True}),
        ("apigateway", "GetUsagePlanKeys", {"usagePlanId": s.ids["plan"]}),
        ("apigateway", "GetUsagePlanKey", {"usagePlanId": s.ids["plan"], "keyId": s.ids["api_key"]}),
        ("appsync", "ListApiKeys", {"apiId": s.ids["appsync"]}),
        ("ecs", "DescribeTaskDefinition", {"taskDefinition": f"bam-{u}"}),
        ("lambda", "ListFunctions", {}),
        ("lambda", "GetFunction", {"FunctionName": f"bam-{u}"}),
        ("lambda", "GetFunctionConfiguration", {"FunctionName": f"bam-{u}"}),
    ]


def plain_reads(s: Seeded) -> list[tuple[str, str, dict[str, Any]]]:
    """Reads that run read-only; the secrets they carry are masked by name/value pair or by text."""
    u = s.uid
    return [
        ("cloudformation", "DescribeStacks", {"StackName": f"bam-{u}"}),
        ("batch", "DescribeJobDefinitions", {"jobDefinitionName": f"bam-{u}"}),
        ("sqs", "ListQueueTags", {"QueueUrl": s.ids["queue"]}),
        ("s3", "GetObject", {"Bucket": f"bam-sens-{u}", "Key": "app.env"}),
        ("s3", "GetObject", {"Bucket": f"bam-sens-{u}", "Key": "config.json"}),
        ("secretsmanager", "ListSecrets", {}),
        ("secretsmanager", "DescribeSecret", {"SecretId": f"bam-sec-{u}"}),
        ("ssm", "DescribeParameters", {}),
        ("apigateway", "GetUsagePlans", {}),
        ("appsync", "ListGraphqlApis", {}),
        ("ecs", "ListTaskDefinitions", {}),
        ("logs", "FilterLogEvents", {"logGroupName": f"/bam/{u}"}),
    ]


def curated_calls(s: Seeded) -> list[tuple[str, dict[str, Any]]]:
    u = s.uid
    return [
        ("aws_s3_object_read", {"bucket": f"bam-sens-{u}", "key": "app.env"}),
        ("aws_s3_object_read", {"bucket": f"bam-sens-{u}", "key": "config.json"}),
        ("aws_s3_objects_list", {"bucket": f"bam-sens-{u}"}),
        ("aws_lambda_functions_list", {}),
        ("aws_logs_events_filter", {"group": f"/bam/{u}", "since_minutes": 60}),
        ("aws_sqs_queues_list", {"prefix": f"bam-{u}"}),
    ]


def _fingerprint(b: Callable[..., Any], s: Seeded) -> Any:
    u = s.uid
    return (
        sorted(x["Name"] for x in b("secretsmanager").list_secrets()["SecretList"]),
        b("secretsmanager").get_secret_value(SecretId=f"bam-sec-{u}")["SecretString"],
        b("ssm").get_parameter(Name=f"/bam/{u}/db", WithDecryption=True)["Parameter"]["Version"],
        sorted(k["id"] for k in b("apigateway").get_api_keys()["items"]),
        sorted(k["id"] for k in b("appsync").list_api_keys(apiId=s.ids["appsync"])["apiKeys"]),
        b("ecs").list_task_definitions(familyPrefix=f"bam-{u}")["taskDefinitionArns"],
        [x["StackStatus"] for x in b("cloudformation").describe_stacks(StackName=f"bam-{u}")["Stacks"]],
        b("lambda").get_function_configuration(FunctionName=f"bam-{u}")["Environment"],
        b("sqs").list_queue_tags(QueueUrl=s.ids["queue"])["Tags"],
    )


async def _call(c: Client, tool: str, service: str, op: str, params: dict[str, Any]) -> CallToolResult:
    return await c.call_tool(tool, {"service": service, "operation": op, "parameters": params})


async def test_read_only_refuses_sensitive_reads_and_masks_the_rest(
    ro: Client, seeded: Seeded, boto: Callable[..., Any]
) -> None:
    before = _fingerprint(boto, seeded)
    for service, op, params in sensitive_reads(seeded):
        r = await _call(ro, "aws_call", service, op, params)
        e = error_text(r)
        assert "ReadOnlyRefused" in e and "sensitive read" in e and "aws_call_write" in e, (op, e)
        assert_clean(r, seeded.canaries, f"aws_call {service}:{op}")
    for service, op, params in plain_reads(seeded):
        r = await _call(ro, "aws_call", service, op, params)
        ok(r)
        assert_clean(r, seeded.canaries, f"aws_call {service}:{op}")
    for tool, args in curated_calls(seeded):
        r = await ro.call_tool(tool, args)
        ok(r)
        assert_clean(r, seeded.canaries, tool)
    writes: list[tuple[str, str, dict[str, Any]]] = [
        ("secretsmanager", "PutSecretValue", {"SecretId": f"bam-sec-{seeded.uid}", "SecretString": "x"}),
        ("ssm", "PutParameter", {"Name": f"/bam/{seeded.uid}/db", "Value": "x", "Overwrite": True}),
        ("apigateway", "CreateApiKey", {"name": "x", "value": "x" * 30}),
        ("lambda", "UpdateFunctionConfiguration", {"FunctionName": f"bam-{seeded.uid}", "Environment": {}}),
        ("cloudformation", "DeleteStack", {"StackName": f"bam-{seeded.uid}"}),
        ("sqs", "UntagQueue", {"QueueUrl": seeded.ids["queue"], "TagKeys": ["api_token"]}),
    ]
    for service, op, params in writes:
        assert "ReadOnlyRefused" in error_text(await _call(ro, "aws_call", service, op, params)), op
    assert _fingerprint(boto, seeded) == before


async def test_pairs_are_masked_by_name_and_other_values_stay(ro: Client, seeded: Seeded) -> None:
    u = seeded.uid
    stack = ok(await _call(ro, "aws_call", "cloudformation", "DescribeStacks", {"StackName": f"bam-{u}"}))
    params = {p["ParameterKey"]: p["ParameterValue"] for p in stack["result"]["Stacks"][0]["Parameters"]}
    assert params == {"DbPassword": REDACTED, "ApiToken": REDACTED, "Environment": "staging"}
    jobs = ok(await _call(ro, "aws_call", "batch", "DescribeJobDefinitions", {"jobDefinitionName": f"bam-{u}"}))
    env = {e["name"]: e["value"] for e in jobs["result"]["jobDefinitions"][0]["containerProperties"]["environment"]}
    assert env == {"SECRET_KEY": REDACTED, "MODE": "visible-b"}
    tags = ok(await _call(ro, "aws_call", "sqs", "ListQueueTags", {"QueueUrl": seeded.ids["queue"]}))
    assert tags["result"]["Tags"] == {"api_token": REDACTED, "team": "core"}


async def test_numbers_and_booleans_are_never_masked(ro: Client, boto: Callable[..., Any], seeded: Seeded) -> None:
    iam = boto("iam")
    iam.update_account_password_policy(MinimumPasswordLength=17, RequireNumbers=True, MaxPasswordAge=33)
    try:
        r = ok(await _call(ro, "aws_call", "iam", "GetAccountPasswordPolicy", {}))
    finally:
        iam.delete_account_password_policy()
    policy = r["result"]["PasswordPolicy"]
    assert policy["MinimumPasswordLength"] == 17 and policy["MaxPasswordAge"] == 33
    assert policy["RequireNumbers"] is True and policy["RequireSymbols"] is False
    plans = ok(await _call(ro, "aws_call", "apigateway", "GetUsagePlans", {}))
    mine = [p for p in plans["result"]["items"] if p["id"] == seeded.ids["plan"]]
    assert mine[0]["throttle"] == {"burstLimit": 10, "rateLimit": 5.0}


async def test_s3_object_read_and_get_object_mask_alike(ro: Client, seeded: Seeded) -> None:
    u = seeded.uid
    read = ok(await ro.call_tool("aws_s3_object_read", {"bucket": f"bam-sens-{u}", "key": "app.env"}))
    got = ok(await _call(ro, "aws_call", "s3", "GetObject", {"Bucket": f"bam-sens-{u}", "Key": "app.env"}))
    assert read["content"] == got["result"]["Body"]["text"]
    assert f"DB_PASSWORD={REDACTED}" in read["content"] and "mode=plain" in read["content"]
    assert got["result"]["ContentLength"] == read["size"]  # numbers stay
    jread = ok(await ro.call_tool("aws_s3_object_read", {"bucket": f"bam-sens-{u}", "key": "config.json"}))
    jgot = ok(await _call(ro, "aws_call", "s3", "GetObject", {"Bucket": f"bam-sens-{u}", "Key": "config.json"}))
    assert jread["content"] == jgot["result"]["Body"]["text"]
    assert json.loads(jread["content"]) == {"db": {"host": "db.internal", "password": REDACTED}, "port": 5432}


async def test_write_mode_masks_every_secret(rw: Client, seeded: Seeded, boto: Callable[..., Any]) -> None:
    for service, op, params in sensitive_reads(seeded) + plain_reads(seeded):
        r = await _call(rw, "aws_call_write", service, op, params)
        out = ok(r)
        assert_clean(r, seeded.canaries, f"aws_call_write {service}:{op}")
        assert REDACTED in json.dumps(out) or op in {
            "ListSecrets",
            "DescribeSecret",
            "DescribeParameters",
            "GetUsagePlans",
            "ListGraphqlApis",
            "ListTaskDefinitions",
        }, (op, out)
    sec = ok(
        await _call(rw, "aws_call_write", "secretsmanager", "GetSecretValue", {"SecretId": f"bam-bin-{seeded.uid}"})
    )
    assert sec["result"]["SecretBinary"] == REDACTED and sec["access"] == "sensitive"
    env = ok(
        await _call(rw, "aws_call_write", "ecs", "DescribeTaskDefinition", {"taskDefinition": f"bam-{seeded.uid}"})
    )
    shown = env["result"]["taskDefinition"]["containerDefinitions"][0]["environment"]
    assert {e["name"] for e in shown} == {"DB_PASSWORD", "PLAIN_SETTING"}  # names stay, values masked
    assert all(e["value"] == REDACTED for e in shown)
    fn = ok(
        await _call(rw, "aws_call_write", "lambda", "GetFunctionConfiguration", {"FunctionName": f"bam-{seeded.uid}"})
    )
    assert fn["result"]["Environment"]["Variables"] == {"API_KEY": REDACTED, "LOG_LEVEL": REDACTED}
    assert fn["result"]["MemorySize"] == 128 and fn["result"]["Timeout"] == 3


async def test_writes_that_return_secrets_are_masked(rw: Client, seeded: Seeded, boto: Callable[..., Any]) -> None:
    u = seeded.uid
    kms = boto("kms")
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    r = await _call(rw, "aws_call_write", "kms", "GenerateDataKey", {"KeyId": key_id, "KeySpec": "AES_256"})
    dk = ok(r)["result"]
    assert dk["Plaintext"] == REDACTED and "base64" in dk["CiphertextBlob"]
    plain = kms.decrypt(CiphertextBlob=base64.b64decode(dk["CiphertextBlob"]["base64"]))["Plaintext"]
    text = _texts(r)
    assert base64.b64encode(plain).decode() not in text and plain.hex() not in text
    kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    boto("iam").create_user(UserName=f"bam-ak-{u}")
    r = await _call(rw, "aws_call_write", "iam", "CreateAccessKey", {"UserName": f"bam-ak-{u}"})
    created = ok(r)["result"]["AccessKey"]
    assert created["SecretAccessKey"] == REDACTED
    assert not re.search(r"(?<![A-Za-z0-9/+=])[A-Za-z0-9/+=]{40}(?![A-Za-z0-9/+=])", _texts(r))
    boto("iam").delete_access_key(UserName=f"bam-ak-{u}", AccessKeyId=created["AccessKeyId"])
    boto("iam").delete_user(UserName=f"bam-ak-{u}")
    new_key = seeded.c["apikey2"]
    r = await _call(rw, "aws_call_write", "apigateway", "CreateApiKey", {"name": f"bam2-{u}", "value": new_key})
    assert ok(r)["result"]["value"] == REDACTED
    assert_clean(r, [new_key], "apigateway:CreateApiKey")
    boto("apigateway").delete_api_key(apiKey=ok(r)["result"]["id"])
    r = await _call(rw, "aws_call_write", "appsync", "CreateApiKey", {"apiId": seeded.ids["appsync"]})
    assert ok(r)["result"]["apiKey"]["id"] == REDACTED
    minted = [k["id"] for k in boto("appsync").list_api_keys(apiId=seeded.ids["appsync"])["apiKeys"]]
    assert_clean(r, minted, "appsync:CreateApiKey")
    envs = {"Variables": {"DB_PASSWORD": seeded.c["lambda"], "MODE": "x"}}
    r = await _call(
        rw, "aws_call_write", "lambda", "UpdateFunctionConfiguration", {"FunctionName": f"bam-{u}", "Environment": envs}
    )
    ok(r)
    assert_clean(r, seeded.canaries, "lambda:UpdateFunctionConfiguration")


async def test_reveal_setting_shows_secrets_only_to_call_write(
    aws_endpoint: str, monkeypatch: pytest.MonkeyPatch, seeded: Seeded
) -> None:
    monkeypatch.setenv("BAM_AWS_REVEAL_SECRETS", "true")
    async with Client(build_server(policy=ToolPolicy(allow_writes=frozenset({"aws"})))) as c:
        r = ok(
            await _call(c, "aws_call_write", "secretsmanager", "GetSecretValue", {"SecretId": f"bam-sec-{seeded.uid}"})
        )
        assert seeded.c["sm"] in r["result"]["SecretString"]
        r2 = await _call(c, "aws_call", "cloudformation", "DescribeStacks", {"StackName": f"bam-{seeded.uid}"})
        assert_clean(r2, seeded.canaries, "aws_call with reveal")
        r3 = await c.call_tool("aws_s3_object_read", {"bucket": f"bam-sens-{seeded.uid}", "key": "app.env"})
        assert_clean(r3, seeded.canaries, "aws_s3_object_read with reveal")


_SENSITIVE_OPS = ["GetSecretValue", "BatchGetSecretValue", "GetParameter", "GetParametersByPath"]


@st.composite
def disguised(draw: st.DrawFn) -> tuple[str, str]:
    """A sensitive operation name disguised: case, separators, padding, path and shell characters."""
    op = draw(st.sampled_from(_SENSITIVE_OPS))
    service = "secretsmanager" if "Secret" in op else "ssm"
    chars = []
    for ch in op:
        chars.append(ch.lower() if draw(st.booleans()) else ch.upper())
        chars.append(draw(st.sampled_from(["", "", "", "_", "-"])))
    name = "".join(chars)
    affix = st.sampled_from(["", " ", "/", "../", "%2F", ";", "$(id)", "\x00", "\u200b", "*", ":", "?x=1", "#"])
    return service, draw(affix) + name + draw(affix)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(disguised())
async def test_disguised_sensitive_operations_never_run_read_only(ro: Client, op: tuple[str, str]) -> None:
    service, name = op
    params = {"SecretId": "x"} if service == "secretsmanager" else {"Name": "/x"}
    r = await _call(ro, "aws_call", service, name, params)
    e = error_text(r)
    assert "ReadOnlyRefused" in e or "UnknownOperation" in e, (name, e)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(offset=st.integers(min_value=0, max_value=60), size=st.integers(min_value=1, max_value=40))
async def test_ranged_reads_never_cut_a_secret_free(ro: Client, seeded: Seeded, offset: int, size: int) -> None:
    """A read starting inside `DB_PASSWORD=...` (e.g. at `WORD=...`) must not show the value."""
    u, canary = seeded.uid, seeded.c["s3"]
    args = {"bucket": f"bam-sens-{u}", "key": "app.env", "offset": offset, "max_bytes": size}
    r = await ro.call_tool("aws_s3_object_read", args)
    if not r.is_error:
        assert_clean(r, [canary, canary[:8], canary[-8:]], f"aws_s3_object_read {offset}+{size}")
    rng = {"Bucket": f"bam-sens-{u}", "Key": "app.env", "Range": f"bytes={offset}-{offset + size - 1}"}
    g = await _call(ro, "aws_call", "s3", "GetObject", rng)
    if not g.is_error:
        assert_clean(g, [canary, canary[:8], canary[-8:]], f"aws_call GetObject {rng['Range']}")


async def test_chunked_walk_of_an_object_never_reassembles_a_secret(ro: Client, seeded: Seeded) -> None:
    for size in (3, 5, 8, 13):
        chunks: list[str] = []
        offset: int | None = 0
        while offset is not None:
            r = ok(
                await ro.call_tool(
                    "aws_s3_object_read",
                    {"bucket": f"bam-sens-{seeded.uid}", "key": "app.env", "offset": offset, "max_bytes": size},
                )
            )
            chunks.append(r["content"])
            offset = r["next_offset"]
        whole = "".join(chunks)
        assert seeded.c["s3"] not in whole and seeded.c["s3"][4:12] not in whole, (size, whole)
