"""Identifier rules of the Kubernetes API and the one builder of request paths.

Every namespace, object name, container name and path segment is checked by the API's own rules
(k8s.io/apimachinery `validation` and `api/validation/path`) before it reaches a URL, and each segment is
then percent-encoded, so no argument can add, remove or re-route a path segment (`/`, `..`, `?`, `#`, `%`).
"""

from __future__ import annotations

import re
from urllib.parse import quote

from mcp.server.mcpserver.exceptions import ToolError

from servers._common import tool_error

DNS1123_LABEL_MAX = 63
DNS1123_SUBDOMAIN_MAX = 253
_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_LABEL = re.compile(rf"^{_LABEL}$")
_DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_DNS1123_SUBDOMAIN = re.compile(rf"^{_LABEL}(\.{_LABEL})*$")
# path.IsValidPathSegmentName allows any text but `.`, `..`, `/` and `%`; we also keep to printable ASCII
# without whitespace (an allow-list: every real RBAC or CSR name, e.g. system:controller:foo, fits it).
_PATH_SEGMENT = re.compile(r"^[!-$&-.0-~]+$")
_KIND = re.compile(r"^[A-Za-z][A-Za-z0-9]{0,62}$")
_SHORT_TEXT = re.compile(r"^[!-~]{1,128}$")
SUBRESOURCES = frozenset({"log", "scale", "status"})

# Kinds whose names follow path-segment rules instead of DNS-1123 subdomains (group -> plurals, or all).
_PATH_SEGMENT_KINDS: dict[str, frozenset[str] | None] = {
    "rbac.authorization.k8s.io": None,
    "certificates.k8s.io": frozenset({"certificatesigningrequests"}),
    "apiregistration.k8s.io": frozenset({"apiservices"}),  # e.g. `v1.` for the core group
}
HINT = "use the object's exact name as listed by k8s_resources_list (output=names)"


def shown(value: str) -> str:
    """A caller-supplied value for an error message: quoted, at most 80 characters."""
    return repr(value if len(value) <= 80 else value[:80] + "...")


def _invalid(what: str, value: str, rule: str, hint: str = HINT) -> ToolError:
    return tool_error(f"check the {what}", f"invalid {what} {shown(value)}: {rule}", code="Invalid", hint=hint)


def check_label(value: str, what: str, hint: str = HINT) -> str:
    """A DNS-1123 label (namespaces, container names): lowercase alphanumerics and '-', at most 63."""
    if not isinstance(value, str) or len(value) > DNS1123_LABEL_MAX or not _DNS1123_LABEL.fullmatch(value):
        raise _invalid(what, str(value), "must be a DNS-1123 label (a-z, 0-9, '-'; at most 63 characters)", hint)
    return value


def check_namespace(value: str) -> str:
    return check_label(value, "namespace", "namespaces are DNS-1123 labels; list them with k8s_namespaces_list")


def check_subdomain(value: str, what: str) -> str:
    if len(value) > DNS1123_SUBDOMAIN_MAX or not _DNS1123_SUBDOMAIN.fullmatch(value):
        raise _invalid(what, value, "must be a DNS-1123 subdomain (a-z, 0-9, '-', '.'; at most 253 characters)")
    return value


def check_segment_name(value: str, what: str = "name") -> str:
    """The API's path-segment rule (not '.' or '..', no '/' or '%'), printable ASCII, at most 253."""
    if value in (".", "..") or len(value) > DNS1123_SUBDOMAIN_MAX or not _PATH_SEGMENT.fullmatch(value):
        raise _invalid(what, value, "must be 1-253 printable characters without '/', '%' or spaces, not '.' or '..'")
    return value


def name_rule_is_segment(group: str, plural: str) -> bool:
    """Whether objects of this resource are named by path-segment rules (RBAC, CSRs) rather than DNS ones."""
    if group not in _PATH_SEGMENT_KINDS:
        return False
    plurals = _PATH_SEGMENT_KINDS[group]
    return plurals is None or plural in plurals


def check_object_name(value: str, group: str, plural: str, kind: str) -> str:
    """An object name by its kind's rule: DNS-1123 subdomain, DNS-1035 label (Service), DNS-1123 label
    (Namespace) or path segment (RBAC kinds, CertificateSigningRequest, APIService)."""
    if not isinstance(value, str) or not value:
        raise _invalid("name", str(value), "an object name cannot be empty")
    if name_rule_is_segment(group, plural):
        return check_segment_name(value)
    if group == "" and kind == "Namespace":
        return check_namespace(value)
    if group == "" and kind == "Service" and (len(value) > DNS1123_LABEL_MAX or not _DNS1035_LABEL.fullmatch(value)):
        raise _invalid("name", value, "Service names are DNS-1035 labels (a-z first, then a-z, 0-9, '-'; <= 63)")
    return check_subdomain(value, "name")


def check_kind_name(value: str) -> str:
    """A Kind as it appears in `involvedObject.kind` (Pod, Deployment, ...)."""
    if not _KIND.fullmatch(value):
        raise _invalid("kind", value, "must be a Kind such as Pod or Deployment", "see k8s_api_resources")
    return value


def check_short_text(value: str, what: str) -> str:
    """A selector value such as an event reason: 1-128 printable ASCII characters, no whitespace."""
    if not _SHORT_TEXT.fullmatch(value):
        raise _invalid(what, value, "must be 1-128 printable characters without spaces", f"pass a plain {what}")
    return value


def field_value(value: str) -> str:
    """A value escaped for a field selector term (apimachinery fields.EscapeValue)."""
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")


def _segment(value: str) -> str:
    return quote(value, safe="-._~:@")


def api_path(
    group: str,
    version: str,
    plural: str | None = None,
    *,
    namespace: str | None = None,
    name: str | None = None,
    subresource: str | None = None,
    kind: str = "",
) -> str:
    """`/api/v1/...` or `/apis/<group>/<version>/...` built from validated, percent-encoded segments only."""
    if group:
        check_subdomain(group, "API group")
    if len(version) > DNS1123_LABEL_MAX or not _DNS1035_LABEL.fullmatch(version):
        raise _invalid("API version", version, "must be a DNS-1035 label such as v1 or v1beta1")
    parts = ["apis", group, version] if group else ["api", version]
    if namespace is not None:
        parts += ["namespaces", check_namespace(namespace)]
    if plural is not None:
        parts.append(check_label(plural, "resource"))
        if name is not None:
            parts.append(check_object_name(name, group, plural, kind))
            if subresource is not None:
                if subresource not in SUBRESOURCES:
                    raise _invalid("subresource", subresource, f"one of {sorted(SUBRESOURCES)}")
                parts.append(subresource)
    return "/" + "/".join(_segment(p) for p in parts)
