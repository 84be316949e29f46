"""Bodies of the auth routes. Answers carry the seed's keys (`success`, `message`, a
nested `user`) beside ours, so its dashboard works unchanged."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from cloudai.api.schemas import LoginOut, UserOut
from cloudai.domain.users import ApiToken, User
from cloudai.master.accounts import Session
from cloudai.master.tokens import MAX_LIFETIME_DAYS, IssuedToken


class AccountOut(UserOut):
    """The user's keys at the top (ours), and again under `user` (the seed's)."""

    success: bool = True
    message: str
    user: UserOut

    @classmethod
    def said(cls, user: User, message: str) -> AccountOut:
        out = UserOut.of(user)
        return cls(**out.model_dump(), success=True, message=message, user=out)


class SessionOut(LoginOut):
    success: bool = True
    message: str

    @classmethod
    def of(cls, session: Session, message: str) -> SessionOut:
        return cls(
            access_token=session.access_token, expires_in=session.expires_in,
            user=UserOut.of(session.user), message=message,
        )  # fmt: skip


class LogoutOut(BaseModel):
    success: bool = True
    message: str


class PasswordIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    current_password: Annotated[str, Field(max_length=1024)]
    new_password: Annotated[str, Field(min_length=8, max_length=1024)]


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Annotated[str, Field(min_length=1, max_length=100, pattern=r"\S")]
    expires_in_days: Annotated[
        int | None, Field(ge=1, le=MAX_LIFETIME_DAYS, description="Omitted: never expires.")
    ] = None


class TokenOut(BaseModel):
    token_id: str
    name: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None

    @classmethod
    def of(cls, t: ApiToken) -> TokenOut:
        return cls(
            token_id=t.token_id, name=t.name, created_at=t.created_at,
            expires_at=t.expires_at, last_used_at=t.last_used_at,
        )  # fmt: skip


class TokenCreatedOut(TokenOut):
    token: Annotated[str, Field(description="The token itself: shown this once only.")]

    @classmethod
    def issued(cls, issued: IssuedToken) -> TokenCreatedOut:
        return cls(**TokenOut.of(issued.token).model_dump(), token=issued.secret)


class TokenListOut(BaseModel):
    tokens: list[TokenOut]
