"""The error hierarchy. Each boundary (gRPC, REST, CLI) translates these in one table.

CloudAIError
├── NotFound            the object does not exist (or is not yours: we never say which)
├── Conflict            the object exists already, or changed under you (CAS lost)
│   └── InvalidTransition   a status change the state machine forbids
├── InvalidRequest      the input is malformed or out of range
├── Unauthorized        missing or bad credentials
├── Forbidden           authenticated, but not allowed
├── TooManyRequests     over a quota or a rate limit; `retry_after_s` when waiting helps
├── StorageFull         no room left to store what was sent (the master's disk)
└── Unavailable         a dependency (worker, docker, database) cannot be reached now
"""

from __future__ import annotations


class CloudAIError(Exception):
    """Root of every error CloudAI raises on purpose."""

    retryable: bool = False


class NotFound(CloudAIError):
    pass


class Conflict(CloudAIError):
    pass


class InvalidTransition(Conflict):
    pass


class InvalidRequest(CloudAIError):
    pass


class Unauthorized(CloudAIError):
    pass


class Forbidden(CloudAIError):
    pass


class TooManyRequests(CloudAIError):
    def __init__(self, message: str, retry_after_s: int | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class StorageFull(CloudAIError):
    pass


class Unavailable(CloudAIError):
    retryable = True
