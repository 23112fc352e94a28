"""`python -m benchmarks`: the floor, the naive way and the project, measured in one run.

    python -m benchmarks                      # 10,000 cases (~100k events), SQLite
    python -m benchmarks --cases 100000       # ~1M events
    python -m benchmarks --postgres           # and the same on PostgreSQL (1 and 4 writers)
    python -m benchmarks --postgres-only      # PostgreSQL alone
    python -m benchmarks --tiny               # a few seconds; what CI runs
    python -m benchmarks --only replay,rebuild --workdir /tmp/b --profile

Prints a Markdown table: each measure, its value, the floor it is divided by, the ratio,
the target from issue 7 and whether it is met. Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

from benchmarks.measure import PHASES, Options, Sizes, main


def parse(argv: list[str]) -> Options:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, help="cases in the municipality (default 10000)")
    parser.add_argument("--events-per-case", type=float, help="mean events per case (default 10)")
    parser.add_argument("--open-share", type=float, help="share of cases still open (default 0.8)")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--postgres", action="store_true", help="also measure on PostgreSQL")
    parser.add_argument("--postgres-only", action="store_true",
                        help="measure on PostgreSQL only (no SQLite run)")
    parser.add_argument("--tiny", action="store_true", help="a tiny run that only shows it works")
    parser.add_argument("--only", help=f"comma-separated phases: {', '.join(PHASES)}")
    parser.add_argument("--record-commands", type=int, help="commands recorded one at a time")
    parser.add_argument("--samples", type=int, help="samples per latency measure")
    parser.add_argument("--daemon-timeout", type=float,
                        help="seconds a daemon tick may take before it is stopped (default 3600)")
    parser.add_argument("--import-parts", type=int,
                        help="import the municipality from this many files, split by case")
    parser.add_argument("--cli-timeout", type=float,
                        help="seconds one operation may take before it is stopped (default 3600)")
    parser.add_argument("--workdir", type=Path, help="keep the files here (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the work dir and PG schema")
    parser.add_argument("--profile", action="store_true",
                        help="run each operation under pyinstrument (workdir/profiles)")
    parser.add_argument("--json", type=Path, help="also write every number to this file")
    args = parser.parse_args(argv)
    sizes = Sizes.tiny() if args.tiny else Sizes()
    changes = {
        "cases": args.cases, "events_per_case": args.events_per_case,
        "open_share": args.open_share, "seed": args.seed,
        "record_commands": args.record_commands, "daemon_timeout": args.daemon_timeout,
        "import_parts": args.import_parts, "cli_timeout": args.cli_timeout,
    }
    if args.samples:
        changes.update(latency_samples=args.samples, naive_get_samples=args.samples)
    sizes = replace(sizes, **{k: v for k, v in changes.items() if v is not None})
    only = set(PHASES)
    if args.only:
        only = {name.strip().replace("-", "_") for name in args.only.split(",") if name.strip()}
        unknown = only - set(PHASES)
        if unknown:
            parser.error(f"unknown phase(s): {', '.join(sorted(unknown))}; known: {', '.join(PHASES)}")
    return Options(sizes=sizes, postgres=args.postgres or args.postgres_only,
                   sqlite=not args.postgres_only, only=only, workdir=args.workdir,
                   keep=args.keep, profile=args.profile, json_out=args.json)


if __name__ == "__main__":
    sys.exit(main(parse(sys.argv[1:])))
