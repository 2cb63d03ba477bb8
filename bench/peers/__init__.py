"""Ours vs. peer MCP servers, both over stdio, interleaved in one run per domain (`python -m bench.peers.run`)."""
