"""The installed distribution's version, without importing anything heavy."""

from importlib.metadata import PackageNotFoundError, version

try:
    VERSION = version("backend-architect-mcp")
except PackageNotFoundError:  # running from a source tree that was not installed
    VERSION = "0.0.0+source"
