"""Redis module (prefix `redis_`): keys, typed values, streams, pub/sub, diagnostics and guarded writes."""

from servers._common.module import ModuleInfo
from servers.redis.settings import RedisSettings, configured

MODULE = ModuleInfo.of(
    __name__,
    RedisSettings,
    configured,
    prefix="redis_",
    title="Redis",
    summary=(
        "browse keys with SCAN, read any value by type with caps and cursors, page streams and pending "
        "entries, listen on pub/sub briefly, read INFO/hit ratio/evictions, SLOWLOG, LATENCY, clients, "
        "memory doctor and a sampled big-key/prefix report; run other commands classified by Redis's own "
        "command metadata"
    ),
    client_env=("REDIS_URL", "REDIS_CLUSTER_NODES", "REDIS_SENTINELS", "REDIS_SENTINEL_SERVICE"),
)
build_server = MODULE.build_server

__all__ = ["MODULE", "RedisSettings", "build_server"]
