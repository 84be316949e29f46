"""Pure domain model: no I/O, no clock reads, no framework imports."""
