"""Accounts: registration, password login (argon2id, throttled), JWT issue/verify (HS256),
revocation, password change; personal API tokens are in `tokens.py`.

Revocation: each user has a session generation, which every JWT carries (`gen`). Logout
and password change bump it, so every earlier JWT of that user fails at once. That is
one integer on the user row, read with the user on each request anyway: no deny-list to
look up or prune, exact on this master, and it holds across masters sharing the
database (within the second a store keeps a user it read: `store/recent_users.py`).
The price: logging out ends all of the user's login sessions, not one.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections import OrderedDict
from dataclasses import dataclass, replace
from datetime import timedelta

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from cloudai.domain.errors import Conflict, Forbidden, InvalidRequest, Unauthorized
from cloudai.domain.users import ApiToken, Role, User
from cloudai.master.throttle import LoginThrottle
from cloudai.master.tokens import ApiTokenService, IssuedToken, is_api_token
from cloudai.ports import Clock, Store

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
_MIN_PASSWORD = 8
_ALGORITHM = "HS256"
# Tokens whose signature was checked, kept so the next request with one skips the
# check (a tenth of a request's time); expiry and the user's state are still checked
# every time. Bounded: the oldest checked drop out.
_VERIFIED_KEPT = 4096
_BAD_LOGIN = "invalid email or password"  # the same whether the email is known or not
_BAD_TOKEN = "invalid or expired token"
_SESSION_ONLY = "API tokens cannot do this: log in with the password"
_DISABLED = "this account is disabled: ask an admin to enable it"


@dataclass(frozen=True, slots=True)
class Session:
    access_token: str
    user: User
    expires_in: int


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a request is, and by which credential: a login session (JWT) or an API token."""

    user: User
    api_token: ApiToken | None = None


class AccountService:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        *,
        jwt_secret: str,
        ttl_s: int,
        throttle: LoginThrottle | None = None,
        open_registration: bool = True,
    ) -> None:
        if len(jwt_secret) < 32:
            raise ValueError("the JWT secret must be at least 32 characters")
        self._store = store
        self._clock = clock
        self._secret = jwt_secret
        self._verified: OrderedDict[str, dict[str, object]] = OrderedDict()
        self._ttl_s = ttl_s
        self._hasher = PasswordHasher()
        self._throttle = throttle if throttle is not None else LoginThrottle(clock)
        self._open_registration = open_registration
        self._dummy_hash: str | None = None  # made on the first unknown email
        self.tokens = ApiTokenService(store, clock)

    async def sign_up(self, name: str, email: str, password: str) -> User:
        """Self-service registration, when the cluster allows it (else an admin adds users)."""
        if not self._open_registration:
            raise Forbidden("registration is closed on this cluster: ask an admin for an account")
        return await self.register(name, email, password)

    async def register(self, name: str, email: str, password: str, role: Role = Role.USER) -> User:
        email = email.strip().lower()
        if not _EMAIL.match(email):
            raise InvalidRequest("email is not a valid address")
        _check_password(password)
        if not name.strip():
            raise InvalidRequest("name is required")
        if await self._store.get_user_by_email(email):
            raise Conflict("a user with this email already exists")
        password_hash = await asyncio.to_thread(self._hasher.hash, password)
        user = User(
            user_id=f"u-{uuid.uuid4().hex[:12]}",
            email=email,
            name=name.strip(),
            password_hash=password_hash,
            role=role,
            created_at=self._clock.now(),
        )
        await self._store.add_user(user)  # the unique index settles a race
        return user

    async def ensure_admin(self, email: str, password: str) -> bool:
        """Create the admin account on first start. True when `password` logs it in
        (False: the account exists from an earlier start with another password)."""
        existing = await self._store.get_user_by_email(email.strip().lower())
        if existing is None:
            await self.register("admin", email, password, role=Role.ADMIN)
            return True
        return await self._verify(existing.password_hash, password)

    async def login(self, email: str, password: str, *, address: str) -> Session:
        """`address` is the client's network address, which the throttle counts by."""
        email = email.strip().lower()
        self._throttle.admit(email, address)  # before any argon2 work: refusals stay cheap
        user = await self._store.get_user_by_email(email)
        if user is None:
            # Verify anyway, so an unknown email takes as long as a wrong password.
            await self._verify(await self._dummy(), password)
            raise Unauthorized(_BAD_LOGIN)
        if not await self._verify(user.password_hash, password):
            raise Unauthorized(_BAD_LOGIN)
        self._throttle.succeeded(email, address)
        if user.disabled:  # said only to whoever knows the password
            raise Unauthorized(_DISABLED)
        return Session(self._issue(user), user, self._ttl_s)

    async def _dummy(self) -> str:
        if self._dummy_hash is None:
            # Two first callers may both hash; either result serves.
            self._dummy_hash = await asyncio.to_thread(self._hasher.hash, uuid.uuid4().hex)
        return self._dummy_hash

    async def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return await asyncio.to_thread(self._hasher.verify, password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def _issue(self, user: User) -> str:
        now = self._clock.now()
        claims = {
            "sub": user.user_id,
            "role": user.role.value,
            "iat": now,
            "exp": now + timedelta(seconds=self._ttl_s),
            "jti": uuid.uuid4().hex,
            "gen": user.session_generation,
        }
        return jwt.encode(claims, self._secret, algorithm=_ALGORITHM)

    async def authenticate(self, token: str) -> User:
        return (await self.identify(token)).user

    async def identify(self, token: str) -> Identity:
        """The identity behind a bearer credential (a JWT or an API token), or Unauthorized."""
        if is_api_token(token):
            identity = Identity(*await self.tokens.authenticate(token))
            if identity.user.disabled:
                raise Unauthorized(_DISABLED)
            return identity
        claims = self._verified_claims(token)
        if int(str(claims["exp"])) <= self._clock.now().timestamp():
            raise Unauthorized(_BAD_TOKEN)
        user = await self._store.get_user(str(claims["sub"]))
        if user is None:
            raise Unauthorized("the token's user no longer exists")
        # Tokens from before generations existed carry none: generation 0.
        if claims.get("gen", 0) != user.session_generation:
            raise Unauthorized("this session has ended (logged out or password changed)")
        if user.disabled:
            raise Unauthorized(_DISABLED)
        return Identity(user)

    def _verified_claims(self, token: str) -> dict[str, object]:
        """The claims of a login token with a good signature, or Unauthorized."""
        claims = self._verified.get(token)
        if claims is not None:
            return claims
        try:
            # Expiry is checked against our clock by the caller, so it is testable.
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[_ALGORITHM],
                options={"require": ["sub", "exp", "iat", "jti"], "verify_exp": False},
            )
        except jwt.PyJWTError as exc:
            raise Unauthorized(_BAD_TOKEN) from exc
        self._verified[token] = claims
        if len(self._verified) > _VERIFIED_KEPT:
            self._verified.popitem(last=False)
        return claims

    async def logout(self, identity: Identity) -> None:
        """End the credential used: an API token is deleted; a login session ends with
        every other login session of the user (see the module docstring)."""
        if identity.api_token is not None:
            await self._store.delete_api_token(identity.user.user_id, identity.api_token.token_id)
        else:
            await self._store.revoke_sessions(identity.user.user_id)

    async def create_api_token(
        self, identity: Identity, name: str, expires_in_days: int | None
    ) -> IssuedToken:
        """Only a login session mints tokens: a leaked token cannot make itself more."""
        if identity.api_token is not None:
            raise Forbidden(_SESSION_ONLY)
        return await self.tokens.create(identity.user, name, expires_in_days)

    async def change_password(
        self, identity: Identity, current: str, new: str, *, address: str
    ) -> Session:
        """Set a new password, ending every login session; answers the caller's new one.
        Throttled like a login: the current password must not be guessable through here."""
        if identity.api_token is not None:
            raise Forbidden(_SESSION_ONLY)
        _check_password(new)
        user = identity.user
        self._throttle.admit(user.email, address)
        if not await self._verify(user.password_hash, current):
            raise Forbidden("the current password is wrong")
        self._throttle.succeeded(user.email, address)
        password_hash = await asyncio.to_thread(self._hasher.hash, new)
        generation = await self._store.set_password(user.user_id, password_hash)
        if generation is None:
            raise Unauthorized("the token's user no longer exists")
        user = replace(user, password_hash=password_hash, session_generation=generation)
        return Session(self._issue(user), user, self._ttl_s)


def _check_password(password: str) -> None:
    if len(password) < _MIN_PASSWORD:
        raise InvalidRequest(f"password must be at least {_MIN_PASSWORD} characters")
