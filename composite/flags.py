"""Command-line flags generated from the settings model: one declaration per setting, never three.

Each field of `AppSettings` (its own and the shared `PolicySettings`) is a flag named after the field
(`json_response` -> `--json-response`) whose help is the field's description plus its environment
variable. Booleans are switches, `Literal` fields take one of their values, numbers are parsed as such.
What differs for one field is stated in its `json_schema_extra=flag(...)` (see `servers._common.settings`).
A flag that is not given leaves the environment's value (or the default) in place.
"""

from __future__ import annotations

import argparse
import types
from dataclasses import dataclass
from typing import Any, Literal, Union, get_args, get_origin

import orjson
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings

from servers._common.settings import FlagSpec

Scope = Literal["serve", "all"]


@dataclass(frozen=True)
class Flag:
    """One settings field as a command-line flag."""

    field: str
    spec: FlagSpec
    info: FieldInfo
    env: str

    @property
    def option(self) -> str:
        return "--" + self.spec.get("name", self.field.replace("_", "-"))

    @property
    def scope(self) -> Scope:
        return self.spec.get("scope", "serve")

    def help(self) -> str:
        env = f"{self.env}={str(self.spec['sets']).lower()}" if "sets" in self.spec else self.env
        text = (self.info.description or "").strip()
        return f"{text} [{env}]".replace("%", "%%").strip()

    def add_to(self, parser: argparse.ArgumentParser) -> None:
        kwargs: dict[str, Any] = {"dest": self.field, "default": None, "help": self.help()}
        if "sets" in self.spec:
            kwargs.update(action="store_const", const=self.spec["sets"])
        elif _base_type(self.info.annotation) is bool:
            kwargs.update(action="store_true")
        else:
            kwargs.update(_value_kwargs(self.info.annotation))
            if "bare" in self.spec:
                kwargs.update(nargs="?", const=self.spec["bare"])
            if "metavar" in self.spec:
                kwargs["metavar"] = self.spec["metavar"]
        parser.add_argument(self.option, **kwargs)


def flags(model: type[BaseSettings]) -> list[Flag]:
    """The flags of every field of `model` that the command line exposes, in field order."""
    prefix = str(model.model_config.get("env_prefix", ""))
    out = []
    for name, info in model.model_fields.items():
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        spec: FlagSpec = extra.get("flag", {})  # type: ignore[assignment]
        if not spec.get("hidden"):
            out.append(Flag(name, spec, info, f"{prefix}{name}".upper()))
    return out


def add_flags(parser: argparse.ArgumentParser, model: type[BaseSettings], scopes: tuple[Scope, ...]) -> None:
    """Add the flags of `model` whose scope is in `scopes` to `parser`."""
    for f in flags(model):
        if f.scope in scopes:
            f.add_to(parser)


def overrides(args: argparse.Namespace, model: type[BaseSettings]) -> dict[str, Any]:
    """The settings fields the command line gave, by field name (flags absent from `args` are skipped)."""
    return {f.field: v for f in flags(model) if (v := getattr(args, f.field, None)) is not None}


def _base_type(annotation: Any) -> Any:
    """`X` of `X | None`."""
    if get_origin(annotation) in (Union, types.UnionType):
        rest = [a for a in get_args(annotation) if a is not type(None)]
        return rest[0] if len(rest) == 1 else str
    return annotation


def _value_kwargs(annotation: Any) -> dict[str, Any]:
    """Literals: one of their values; numbers: parsed; collections and models: JSON (like their variable)."""
    base = _base_type(annotation)
    if get_origin(base) is Literal:
        return {"choices": list(get_args(base))}
    if base in (int, float):
        return {"type": base}
    if get_origin(base) in (list, dict, set, tuple) or base in (list, dict, set, tuple) or _is_model(base):
        return {"type": _json, "metavar": "JSON"}
    return {}  # str, SecretStr, Path, ...: the settings model validates the text


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _json(text: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"not JSON: {exc}") from exc
