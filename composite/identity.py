"""Who is calling: the subject and client id of the current request, from the SDK's access token.

Over stdio, and over HTTP without authentication, every call comes from the one local user (`local`).
With bearer tokens the SDK's auth middleware puts the verified `AccessToken` in a context variable that
reaches the tool handler; its `subject` (JWT `sub`) names the caller, else its client id (static tokens).
"""

from __future__ import annotations

from mcp.server.auth.middleware.auth_context import get_access_token

LOCAL = "local"
"""The subject of unauthenticated calls (stdio, or HTTP without `--auth-*`)."""


def caller_identity() -> tuple[str, str | None]:
    """`(subject, client_id)` of the caller of the current request."""
    token = get_access_token()
    if token is None:
        return LOCAL, None
    return token.subject or token.client_id, token.client_id
