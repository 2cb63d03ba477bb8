from servers._common.standalone import run_standalone
from servers.redis import MODULE

run_standalone(MODULE)
