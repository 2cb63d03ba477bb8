"""Generated checks of the model-driven secret handling: classification and masking agree with botocore.

Operations are drawn by Hypothesis from botocore's bundled models. For each, the sensitive-read
classification is recomputed here from the model (an independent walk) and compared; then a synthetic
response is built from the output shape, every text and blob member filled with a canary (a distinct one
under members the model marks sensitive), and the masking walk must leave no sensitive canary behind.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from servers.aws import catalog
from servers.aws.sensitive import EXTRA_SENSITIVE, IDENTIFIERS, PAIR_KEYS, PAIR_VALUES, mask_response

SECRET = "SECRETCANARY"
PLAIN = "plaincanary"


@functools.cache
def _services() -> list[str]:
    return catalog.services()


@functools.cache
def _operations(service: str) -> list[str]:
    return list(catalog.service_model(service).operation_names)


def _marked(service: str, parent: Any, name: str, shape: Any) -> bool:
    return bool(shape.metadata.get("sensitive")) or name in EXTRA_SENSITIVE.get(service, {}).get(parent.name, ())


def _holds_secret(service: str, shape: Any, seen: frozenset[str] = frozenset()) -> bool:
    """Independent reading of the model: does the tree under `shape` hold a secret-bearing member?"""
    if shape.name in IDENTIFIERS.get(service, ()):
        return False
    if shape.metadata.get("sensitive"):
        return True
    if shape.name in seen:
        return False
    seen = seen | {shape.name}
    if shape.type_name == "structure":
        return any(
            (_marked(service, shape, n, m) and m.name not in IDENTIFIERS.get(service, ()))
            or _holds_secret(service, m, seen)
            for n, m in shape.members.items()
        )
    if shape.type_name == "list":
        return _holds_secret(service, shape.member, seen)
    if shape.type_name == "map":
        return _holds_secret(service, shape.key, seen) or _holds_secret(service, shape.value, seen)
    return False


def _is_read_name(service: str, op: str) -> bool:
    named = any(op.startswith(p) and (op == p or op[len(p)].isupper()) for p in catalog.READ_PREFIXES)
    return named or op in catalog.EXTRA_READS.get(service, frozenset())


class Synth:
    """Builds a response for a shape: text and blobs are canaries, SECRET ones under sensitive members."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.n = itertools.count()

    def text(self, secret: bool) -> str:
        return f"{SECRET if secret else PLAIN}{next(self.n)}"

    def build(self, shape: Any, secret: bool, depth: int = 0, seen: tuple[str, ...] = ()) -> Any:
        secret = secret or bool(shape.metadata.get("sensitive"))
        t = shape.type_name
        if t == "structure":
            if depth > 7 or seen.count(shape.name) > 1:
                return {}
            out: dict[str, Any] = {}
            pair = any(k in shape.members for k in PAIR_KEYS) and any(v in shape.members for v in PAIR_VALUES)
            for name, member in shape.members.items():
                if pair and name in PAIR_KEYS and member.type_name == "string":
                    out[name] = f"NAME{next(self.n)}"  # names of name/value pairs stay visible by design
                    continue
                sub = secret or _marked(self.service, shape, name, member)
                out[name] = self.build(member, sub, depth + 1, (*seen, shape.name))
            return out
        if t == "list":
            return [self.build(shape.member, secret, depth + 1, seen) for _ in range(2)]
        if t == "map":
            return {f"key{next(self.n)}": self.build(shape.value, secret, depth + 1, seen)}
        return self.scalar(t, secret)

    def scalar(self, t: str, secret: bool) -> Any:
        if t == "string":
            return self.text(secret)
        if t == "blob":
            return self.text(secret).encode()
        if t == "boolean":
            return True
        if t in ("integer", "long"):
            return 424242
        if t in ("float", "double"):
            return 4.25
        if t == "timestamp":
            return dt.datetime(2026, 1, 2, tzinfo=dt.UTC)
        return self.text(secret)  # document and other untyped values


def _dump(value: Any) -> str:
    """JSON with blobs as their raw text, so a canary in a blob is visible."""
    return orjson.dumps(value, default=lambda v: v.decode("latin-1") if isinstance(v, bytes) else str(v)).decode()


@st.composite
def operations(draw: st.DrawFn) -> tuple[str, str]:
    service = draw(st.sampled_from(_services()))
    return service, draw(st.sampled_from(_operations(service)))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(operations())
def test_classification_agrees_with_the_model(op: tuple[str, str]) -> None:
    service, name = op
    shape = catalog.service_model(service).operation_model(name).output_shape
    listed = name in catalog.SENSITIVE_READS.get(service, frozenset())
    holds = shape is not None and _holds_secret(service, shape)
    got = catalog.classify(service, name).access
    if listed or (_is_read_name(service, name) and holds):
        assert got == "sensitive", (service, name, got)
    else:
        assert got == ("read" if _is_read_name(service, name) else "write"), (service, name, got)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(operations())
def test_masking_leaves_no_sensitive_canary(op: tuple[str, str]) -> None:
    service, name = op
    shape = catalog.service_model(service).operation_model(name).output_shape
    if shape is None:
        return
    synth = Synth(service)
    data = synth.build(shape, secret=False)
    out = _dump(mask_response(service, shape, data))
    assert SECRET not in out, (service, name)
    # numbers and booleans are never masked
    assert ("424242" in out) == ("424242" in _dump(data))
    assert ("true" in out) == ("true" in _dump(data))


def test_named_gaps_are_covered() -> None:
    """The cases the models leave unmarked are on the documented list and make the reads sensitive."""
    for service, op in [
        ("apigateway", "GetUsagePlanKeys"),
        ("apigateway", "GetApiKeys"),
        ("appsync", "ListApiKeys"),
        ("ecs", "DescribeTaskDefinition"),
        ("ssm", "GetParametersByPath"),
        ("secretsmanager", "BatchGetSecretValue"),
        ("lambda", "ListFunctions"),
        ("ecr", "GetAuthorizationToken"),
    ]:
        assert catalog.classify(service, op).access == "sensitive", (service, op)
    for service, op in [("s3", "GetObject"), ("s3", "HeadObject"), ("cloudformation", "DescribeStacks")]:
        assert catalog.classify(service, op).access == "read", (service, op)
    for service, op in [
        ("apigateway", "GetUsagePlanKeys"),
        ("appsync", "ListApiKeys"),
        ("secretsmanager", "GetSecretValue"),
        ("kms", "GenerateDataKey"),
        ("lambda", "ListFunctions"),
        ("ecs", "DescribeTaskDefinition"),
    ]:
        shape = catalog.service_model(service).operation_model(op).output_shape
        data = Synth(service).build(shape, secret=False)
        assert SECRET in _dump(data), (service, op)  # the generator does seed secrets here
        assert SECRET not in _dump(mask_response(service, shape, data)), (service, op)


def test_documented_lists_name_real_model_members() -> None:
    """Every gap and exemption names a shape (and member) that exists in botocore's models."""
    for service, shapes in EXTRA_SENSITIVE.items():
        model = catalog.service_model(service)
        for shape_name, members in shapes.items():
            shape = model.shape_for(shape_name)
            assert set(members) <= set(shape.members), (service, shape_name)
            assert not any(shape.members[m].metadata.get("sensitive") for m in members), "already marked"
    for service, names in IDENTIFIERS.items():
        model = catalog.service_model(service)
        assert all(model.shape_for(n).metadata.get("sensitive") for n in names), service
