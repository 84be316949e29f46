"""The processes' composition roots (`cloudai up`, `master`, `worker`): the only code that
imports both the master and the worker. `commands` is light (flags only); the rest is
imported when one of those commands runs."""
