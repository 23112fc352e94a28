"""Reading history: a case's timeline, its state as of a date, verifying the hash chain,
checkpoints, the tilsyn report and statistics. Nothing in this package writes events."""
