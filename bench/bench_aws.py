"""p50 of an S3 list-objects: raw boto3 vs. aws_s3_objects_list / aws_call through the composite.

Run: `make bench` (or `.venv/bin/python -m bench.bench_aws` with AWS_ENDPOINT_URL pointing at moto).
"""

from __future__ import annotations

import os
import uuid

import anyio
import boto3
from mcp import Client

from bench.common import measure, table, write
from composite.app import build
from composite.settings import AppSettings

KEYS = 20


async def main() -> None:
    s3 = boto3.client("s3")
    bucket = f"bam-bench-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=bucket)
    for i in range(KEYS):
        s3.put_object(Bucket=bucket, Key=f"data/{i:03d}.json", Body=b'{"ok": true}')
    app = build(AppSettings(servers="aws"))

    async def raw_on_loop() -> object:
        return s3.list_objects_v2(Bucket=bucket, Prefix="data/")

    async def raw_in_thread() -> object:
        return await anyio.to_thread.run_sync(lambda: s3.list_objects_v2(Bucket=bucket, Prefix="data/"))

    try:
        async with Client(app.server) as client:

            async def curated() -> object:
                r = await client.call_tool("aws_s3_objects_list", {"bucket": bucket, "prefix": "data/"})
                assert not r.is_error and r.structured_content and r.structured_content["count"] == KEYS
                return r

            async def generic() -> object:
                r = await client.call_tool(
                    "aws_call",
                    {
                        "service": "s3",
                        "operation": "ListObjectsV2",
                        "parameters": {"Bucket": bucket, "Prefix": "data/"},
                    },
                )
                assert not r.is_error and r.structured_content and r.structured_content["item_count"] == KEYS
                return r

            stats = await measure(
                {
                    "raw boto3 list_objects_v2 (blocking the loop)": raw_on_loop,
                    "raw boto3 list_objects_v2 in a worker thread": raw_in_thread,
                    "composite aws_s3_objects_list": curated,
                    "composite aws_call s3:ListObjectsV2": generic,
                },
                n=int(os.environ.get("BENCH_N", "200")),
                warmup=20,
            )
    finally:
        for i in range(KEYS):
            s3.delete_object(Bucket=bucket, Key=f"data/{i:03d}.json")
        s3.delete_bucket(Bucket=bucket)
    notes = (
        f"Same process, interleaved round-robin, against moto_server over loopback HTTP "
        f"({os.environ.get('AWS_ENDPOINT_URL', 'AWS')}), {KEYS} objects per listing. "
        "`composite aws_s3_objects_list` = in-memory MCP client -> composite server -> worker thread (boto3 is "
        "blocking) -> paginator with MaxItems (resume token) -> pydantic summary + byte cap -> structured result. "
        "`composite aws_call` adds botocore ParamValidator validation before sending, read-only classification, "
        "JSON conversion of the full response and secret masking. The gap to the raw call is mostly the MCP "
        "client's own jsonschema validation of the structured result (a list of 20 typed objects; the largest "
        "item in a cProfile of the composite call), then the worker-thread hop and pydantic. moto itself "
        "(a Python HTTP server on a loaded 2-core box) dominates the absolute numbers."
    )
    text = table(
        "S3 ListObjectsV2: raw boto3 vs. composite tools",
        stats,
        baseline="raw boto3 list_objects_v2 in a worker thread",
        notes=notes,
    )
    path = write("aws", text)
    print(text)  # the benchmark's report goes to stdout (not a server process)
    print(f"wrote {path}")


if __name__ == "__main__":
    anyio.run(main)
