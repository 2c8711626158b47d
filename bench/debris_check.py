"""Debris check: kill or interrupt the parallel runner at random moments and count what is left.

    .venv/bin/python bench/debris_check.py [--trials 20] [--seed N] [--within 1 8]
                                           [--kinds SIGKILL SIGINT ...] [features…]

Each trial starts ``python -m support.acceptance --jobs 2`` on the features (default: the two
Codex network features, which keep both workers busy with several nodes each), sends SIGKILL, one
SIGINT (a Ctrl-C), two SIGINTs or a SIGTERM at a random moment, then counts the run's processes
and ports still there 10 s after the runner is gone, and checks that a run right after it passes
(see ``support/processes/debris.py``). The seed is printed; ``--seed`` or ``DEBRIS_SEED`` replays
the same trials. The goal: 0 processes and 0 ports left in every trial.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from support.processes import debris  # noqa: E402 - after the path is set


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--seed", type=int, default=None,
                        help=f"replay the trials of this seed (default: ${debris.SEED_VARIABLE} "
                             "or a fresh one)")
    parser.add_argument("--within", type=float, nargs=2, default=(1.0, 8.0),
                        metavar=("FROM", "TO"),
                        help="the moments, in seconds after the runner started (default 1 8)")
    parser.add_argument("--kinds", nargs="+", default=list(debris.KINDS),
                        choices=debris.KINDS, metavar="KIND",
                        help=f"what may be sent: {', '.join(debris.KINDS)} (default: all)")
    parser.add_argument("features", nargs="*", default=list(debris.DEFAULT_FEATURES))
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else debris.seed_from_environment()
    print(f"seed {seed} (replay: --seed {seed}); features: {' '.join(args.features)}",
          flush=True)
    processes = ports = failed_next = clean = 0
    with tempfile.TemporaryDirectory(prefix="debris-check-") as scratch:
        for number, plan in enumerate(debris.plans(seed, args.trials, tuple(args.within),
                                                   args.kinds), 1):
            outcome = debris.trial(plan, Path(scratch) / f"trial-{number}",
                                   features=args.features)
            print(f"trial {number}: {outcome.line()}", flush=True)
            for left in outcome.processes_left:
                print(f"    left: {left}")
            if outcome.ports_left:
                print(f"    ports held: {outcome.ports_left}")
            if outcome.signalled and outcome.stopped_within is None:
                print("    the runner did not stop by itself")
            processes += len(outcome.processes_left)
            ports += len(outcome.ports_left)
            failed_next += outcome.next_run_code != 0
            clean += outcome.clean and outcome.stopped_within is not None
    print(f"total over {args.trials} trials (seed {seed}): {processes} processes and {ports} "
          f"ports left; {failed_next} next runs failed; {clean} of {args.trials} trials clean")
    return 0 if clean == args.trials else 1


if __name__ == "__main__":
    sys.exit(main())
