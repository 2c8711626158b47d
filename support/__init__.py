"""The acceptance suite's support code: worlds, systems, the launcher, typed clients, settings,
the report.

The suite forks and execs every process it starts, from processes that hold live gRPC channels.
gRPC's fork support (pthread_atfork handlers that restart its pollers in the child) is meant for
fork *without* exec, and in a fork-then-exec child its poller can race the closing of inherited
descriptors and abort the child before exec. It is turned off before gRPC first loads.
"""

import os

os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")
