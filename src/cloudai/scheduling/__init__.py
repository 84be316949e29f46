"""Pure scheduling: a snapshot of workers and the queue in, placements and pending reasons out."""
