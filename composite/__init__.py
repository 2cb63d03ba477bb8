"""The composite server: every tool module behind one MCP endpoint (stdio, SSE, streamable HTTP)."""
