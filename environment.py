"""behave hooks (behave only loads this file from the repository root). Logic: support.lifecycle."""

from behave.model import Scenario
from behave.runner import Context

from support import lifecycle


def before_all(context: Context) -> None:
    lifecycle.start_run(context)


def before_scenario(context: Context, scenario: Scenario) -> None:
    lifecycle.start_scenario(context, scenario)


def after_scenario(context: Context, scenario: Scenario) -> None:
    lifecycle.finish_scenario(context, scenario)
