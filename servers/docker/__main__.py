from servers._common.standalone import run_standalone
from servers.docker import MODULE

run_standalone(MODULE)
