"""`python -m ledger.cli`: the `bti` command without the console script."""

from ledger.cli import main

main()
