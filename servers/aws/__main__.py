from servers._common.standalone import run_standalone
from servers.aws import MODULE

run_standalone(MODULE)
