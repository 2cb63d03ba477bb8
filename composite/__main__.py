"""`python -m composite` and the `backend-architect-mcp` console script: `composite.cli.main` without garbage
collection from the first import (perf: start-up allocates a great many objects and frees few, so collecting
during it is waste; `main` enables the collector again once the server is built)."""

import gc

gc.disable()

from composite.cli import main  # noqa: E402

if __name__ == "__main__":
    main()
