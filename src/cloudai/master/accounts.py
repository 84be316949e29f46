"""Accounts: registration, password login (argon2id, throttled), JWT issue/verify (HS256)."""

from __future__ import annotations

import asyncio
import re
import uuid
from dataclasses import dataclass
from datetime import timedelta

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from cloudai.domain.errors import Conflict, Forbidden, InvalidRequest, Unauthorized
from cloudai.domain.users import Role, User
from cloudai.master.throttle import LoginThrottle
from cloudai.ports import Clock, Store

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
_MIN_PASSWORD = 8
_ALGORITHM = "HS256"
_BAD_LOGIN = "invalid email or password"  # the same whether the email is known or not


@dataclass(frozen=True, slots=True)
class Session:
    access_token: str
    user: User
    expires_in: int


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
        self._ttl_s = ttl_s
        self._hasher = PasswordHasher()
        self._throttle = throttle if throttle is not None else LoginThrottle(clock)
        self._open_registration = open_registration
        self._dummy_hash: str | None = None  # made on the first unknown email

    async def sign_up(self, name: str, email: str, password: str) -> User:
        """Self-service registration, when the cluster allows it (else an admin adds users)."""
        if not self._open_registration:
            raise Forbidden("registration is closed on this cluster: ask an admin for an account")
        return await self.register(name, email, password)

    async def register(self, name: str, email: str, password: str, role: Role = Role.USER) -> User:
        email = email.strip().lower()
        if not _EMAIL.match(email):
            raise InvalidRequest("email is not a valid address")
        if len(password) < _MIN_PASSWORD:
            raise InvalidRequest(f"password must be at least {_MIN_PASSWORD} characters")
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
        }
        return jwt.encode(claims, self._secret, algorithm=_ALGORITHM)

    async def authenticate(self, token: str) -> User:
        try:
            # Expiry is checked against our clock below, so it is testable and consistent.
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[_ALGORITHM],
                options={"require": ["sub", "exp", "iat", "jti"], "verify_exp": False},
            )
        except jwt.PyJWTError as exc:
            raise Unauthorized("invalid or expired token") from exc
        if int(claims["exp"]) <= self._clock.now().timestamp():
            raise Unauthorized("invalid or expired token")
        user = await self._store.get_user(str(claims["sub"]))
        if user is None:
            raise Unauthorized("the token's user no longer exists")
        return user
