from servers._common.standalone import run_standalone
from servers.postgres import MODULE

run_standalone(MODULE)
