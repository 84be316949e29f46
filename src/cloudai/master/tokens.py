"""Personal API tokens: long-lived credentials for programs, created by a logged-in user.

A token is `cai_` + 32 random bytes (URL-safe base64), shown once at creation. Only its
SHA-256 is stored: for a random 256-bit secret a fast hash is as good as a slow one
(nothing to guess), and it lets a request find its token by one indexed lookup.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta

from cloudai.domain.errors import InvalidRequest, NotFound, TooManyRequests, Unauthorized
from cloudai.domain.users import ApiToken, User
from cloudai.ports import Clock, Store

TOKEN_PREFIX = "cai_"
_SECRET_BYTES = 32
MAX_TOKENS_PER_USER = 100
MAX_LIFETIME_DAYS = 3650
_BAD_TOKEN = "invalid, expired or revoked API token"


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: ApiToken
    secret: str  # the only time it is seen


def is_api_token(credential: str) -> bool:
    return credential.startswith(TOKEN_PREFIX)


def hash_token(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class ApiTokenService:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        *,
        max_per_user: int = MAX_TOKENS_PER_USER,
        touch_every_s: float = 60.0,
    ) -> None:
        self._store = store
        self._clock = clock
        self._max = max_per_user
        # last_used_at is for people reading the list: a minute's precision saves a
        # database write on every request a busy program makes.
        self._touch_every = timedelta(seconds=touch_every_s)

    async def create(self, user: User, name: str, expires_in_days: int | None) -> IssuedToken:
        name = name.strip()
        if not name:
            raise InvalidRequest("a token needs a name")
        if expires_in_days is not None and not 1 <= expires_in_days <= MAX_LIFETIME_DAYS:
            raise InvalidRequest(f"expires_in_days must be 1 to {MAX_LIFETIME_DAYS}")
        now = self._clock.now()
        await self._store.prune_api_tokens(now)  # creation is rare: expired ones go here
        if len(await self._store.list_api_tokens(user.user_id)) >= self._max:
            raise TooManyRequests(f"at most {self._max} API tokens per user: delete some first")
        secret = TOKEN_PREFIX + secrets.token_urlsafe(_SECRET_BYTES)
        expires = None if expires_in_days is None else now + timedelta(days=expires_in_days)
        token = ApiToken(
            token_id=f"tok-{uuid.uuid4().hex[:16]}",
            user_id=user.user_id,
            name=name,
            token_hash=hash_token(secret),
            created_at=now,
            expires_at=expires,
        )
        await self._store.add_api_token(token)
        return IssuedToken(token, secret)

    async def list_tokens(self, user: User) -> list[ApiToken]:
        return await self._store.list_api_tokens(user.user_id)

    async def delete(self, user: User, token_id: str) -> None:
        if not await self._store.delete_api_token(user.user_id, token_id):
            raise NotFound(f"no API token {token_id!r}")

    async def authenticate(self, secret: str) -> tuple[User, ApiToken]:
        digest = hash_token(secret)
        token = await self._store.get_api_token(digest)
        now = self._clock.now()
        # The lookup matched already; comparing again in constant time costs nothing
        # and keeps the rule "secrets are compared in constant time" without exceptions.
        if token is None or not hmac.compare_digest(token.token_hash, digest):
            raise Unauthorized(_BAD_TOKEN)
        if token.expired(now):
            raise Unauthorized(_BAD_TOKEN)
        user = await self._store.get_user(token.user_id)
        if user is None:
            raise Unauthorized(_BAD_TOKEN)
        if token.last_used_at is None or now - token.last_used_at >= self._touch_every:
            await self._store.touch_api_token(token.token_id, now)
        return user, token
