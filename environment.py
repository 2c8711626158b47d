"""behave hooks (behave only loads this file from the repository root). Logic: support.lifecycle."""

import os

# gRPC's C core logs connection chatter at INFO; keep the console for the suite's own output.
os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
# The suite forks and execs from processes with live gRPC channels (see support/__init__.py).
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")

from behave.model import Feature, Scenario
from behave.runner import Context

from support import lifecycle


def before_all(context: Context) -> None:
    lifecycle.start_run(context)


def after_all(context: Context) -> None:
    lifecycle.finish_run(context)


def before_feature(context: Context, feature: Feature) -> None:
    lifecycle.start_feature(context, feature)


def after_feature(context: Context, feature: Feature) -> None:
    lifecycle.finish_feature(context, feature)


def before_scenario(context: Context, scenario: Scenario) -> None:
    lifecycle.start_scenario(context, scenario)

