from servers._common.standalone import run_standalone
from servers.kubernetes import MODULE

run_standalone(MODULE)
