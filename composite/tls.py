"""`--tls-cert`/`--tls-key`: serve HTTPS directly (uvicorn's own TLS), checked before the server starts."""

from __future__ import annotations

import ssl
from typing import Any


def tls_kwargs(settings: Any) -> dict[str, Any]:
    """uvicorn's `ssl_certfile`/`ssl_keyfile` for the settings; ValueError when they cannot be used."""
    cert, key = settings.tls_cert.strip(), settings.tls_key.strip()
    if not cert and not key:
        return {}
    if not (cert and key):
        raise ValueError("--tls-cert and --tls-key go together: set both or neither")
    if settings.transport == "stdio":
        raise ValueError("--tls-cert/--tls-key apply to --transport http or sse, not stdio")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        raise ValueError(f"--tls-cert/--tls-key cannot be loaded: {exc}") from exc
    return {"ssl_certfile": cert, "ssl_keyfile": key}
