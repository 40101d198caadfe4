"""``sopdrill replay FILE``: run exactly one schedule file again, as a drill with its report.

The file is what a failing generated-schedules drill wrote beside its report (or one
written by hand: fixtures/schedules/model.py says its form). The replay is a
``sopdrill run`` of the schedules drill alone with ``--drill-schedule FILE``: a fresh
deployment, the schedule played on time, the checker's judgement, report.html and a
signed manifest; the exit status says whether the SOP held, as ``run``'s does.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from cli.commands import run as run_command
from cli.commands.arguments import add_run_outputs
from fixtures.errors import UsageError
from fixtures.schedules.model import Schedule, ScheduleError
from fixtures.topology import BACKENDS

NAME = "replay"
HELP = "run one schedule file again (a generated schedule that failed) and report it"

#: The drill that plays schedules (drills/test_generated_schedules.py).
SCHEDULES_DRILL = "test_generated_schedules"
#: The suite the schedules drill belongs to.
SUITE = "nightly"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``FILE [--backend B] [--time-scale N] [--out DIR]``."""
    parser.add_argument("file", type=Path, metavar="FILE", help="a schedule file (JSON)")
    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        default=None,
        help="where the SUT runs (default: the backend the schedule was made for)",
    )
    add_run_outputs(parser, "60")


def run(args: argparse.Namespace) -> int:
    """Read the schedule (one line if it is not one), then run the drill on it alone."""
    try:
        schedule = Schedule.load(args.file)
    except ScheduleError as exc:
        raise UsageError(str(exc)) from None
    return run_command.run(run_arguments(args, schedule))


def run_arguments(args: argparse.Namespace, schedule: Schedule) -> argparse.Namespace:
    """``run``'s own arguments for this replay: its parser's defaults (so an option ``run``
    gains is never missing here: -n once was), then the replay's choices."""
    parser = argparse.ArgumentParser(add_help=False)
    run_command.add_arguments(parser)
    as_run = parser.parse_args([])
    as_run.suite = SUITE
    as_run.backend = args.backend or schedule.backend
    as_run.time_scale = args.time_scale
    as_run.past_tolerance = args.past_tolerance
    as_run.out = args.out
    as_run.pytest_args = ["-k", SCHEDULES_DRILL, f"--drill-schedule={args.file.absolute()}"]
    return as_run
