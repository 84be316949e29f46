"""Cluster credentials.

A worker joins with the cluster join token. The master answers with a per-worker
credential, HMAC(join token, worker id): deterministic, so it survives master restarts
without being stored, and useless for impersonating any other worker id. The worker
presents it on every call to the master; the master presents it on every call to the
worker, so a worker obeys only the master it joined.
"""

from __future__ import annotations

import functools
import hashlib
import hmac

JOIN_TOKEN_HEADER = "x-cloudai-join-token"
WORKER_ID_HEADER = "x-cloudai-worker-id"
CREDENTIAL_HEADER = "x-cloudai-credential"
# A worker an admin pre-registered joins with its one-time registration token instead
# of the join token (and gets the same per-worker credential).
REGISTRATION_TOKEN_HEADER = "x-cloudai-registration-token"


# Kept per worker: both sides present it on every call, and an HMAC a call was a
# tenth of a report's time on the master.
@functools.lru_cache(maxsize=10_000)
def worker_credential(join_token: str, worker_id: str) -> str:
    return hmac.new(join_token.encode(), f"worker:{worker_id}".encode(), hashlib.sha256).hexdigest()


def same_secret(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())
