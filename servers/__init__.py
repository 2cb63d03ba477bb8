"""Tool modules of backend-architect-mcp: one MCP server per backend, composable behind one endpoint."""
