"""Tokens and roles: the next round's list is confidential, so every endpoint but health needs a token.

A token is 32 random bytes shown once when issued; only its SHA-256 is stored (a leaked database
gives no usable token). Roles decide what a token may do (the rights and the route each one opens
are declared once, in serving.permissions):

  planner     plan a round and download it, explain targets, facility reports (without claim rows),
              burden view
  supervisor  explain, pull evidence (疑点清单), facility reports with their claim rows, record
              findings, burden view; never the plan or its downloads
  analyst     score feature rows in batches, burden view, the API schema
  monitor     /metrics only (a Prometheus scraper's token)
  admin       everything

What an analyst may see (issue 16, item 13): no facility's or physician's explanation at all. An
explanation carries the risk score, percentile and expected recovery, and its contributions sum
to the score; run over every code it rebuilds the confidential ranking (all 30 planned targets
fell in an analyst's top 60). Removing only the score fields would not close that: the feature
values it shows, sent back to /api/score, give the scores again. Analysts study the model through
the rows they score themselves, the burden view and the training reports (MLflow, evaluation.json),
none of which reveals the next round.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Boolean, DateTime, String, select
from sqlalchemy.orm import Mapped, mapped_column

from feijian.errors import FeijianError, ForbiddenError, InputError
from records.db import Base, Database
from serving.permissions import ROLE_LABELS, ROLES, roles_with

TOKEN_PREFIX = "fj_"


class AuthError(FeijianError):
    """No token, or a token that is unknown or revoked."""

    exit_code = 5
    http_status = 401


class ApiToken(Base):
    __tablename__ = "api_tokens"

    token_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(20))
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


@dataclass(frozen=True)
class Principal:
    token_id: str
    name: str
    role: str

    def require(self, right: str) -> None:
        if right not in ROLES.get(self.role, frozenset()):
            raise ForbiddenError(
                f"role {self.role!r} ({ROLE_LABELS.get(self.role, '')}) may not {right}; "
                f"roles that may: {', '.join(roles_with(right))}"
            )


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue(db: Database, name: str, role: str) -> tuple[str, str]:
    """Create a token; returns (token_id, the token itself — shown once, never stored)."""
    if role not in ROLES:
        raise InputError(f"role must be one of {', '.join(ROLES)}; got {role!r}")
    if not name.strip():
        raise InputError("a token needs a name (who holds it)")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token_id = secrets.token_hex(4)
    with db.session() as s:
        s.add(
            ApiToken(
                token_id=token_id,
                name=name.strip(),
                role=role,
                token_sha256=_digest(token),
                created_at=datetime.now(UTC),
                revoked=False,
            )
        )
        s.commit()
    return token_id, token


def revoke(db: Database, token_id: str) -> None:
    with db.session() as s:
        row = s.get(ApiToken, token_id)
        if row is None:
            raise InputError(f"no token with id {token_id!r}; `feijian token list` shows them")
        row.revoked = True
        s.commit()


def list_tokens(db: Database) -> list[dict[str, object]]:
    with db.session() as s:
        rows = s.scalars(select(ApiToken).order_by(ApiToken.created_at)).all()
        return [
            {
                "token_id": r.token_id,
                "name": r.name,
                "role": r.role,
                "created_at": r.created_at.isoformat(),
                "revoked": r.revoked,
            }
            for r in rows
        ]


class TokenCache:
    """Looks tokens up by digest; remembers hits briefly so a busy service does not query per request."""

    def __init__(self, db: Database, ttl_seconds: float = 5.0) -> None:
        self.db = db
        self.ttl = ttl_seconds
        self._cache: dict[str, tuple[float, Principal | None]] = {}

    def authenticate(self, authorization: str | None, now: float) -> Principal:
        if not authorization:
            raise AuthError("this endpoint needs a token: send the header 'Authorization: Bearer <token>'",
                            zh="需要访问令牌：请先输入令牌")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthError("malformed Authorization header: expected 'Bearer <token>'", zh="访问令牌格式不对")
        digest = _digest(token.strip())
        hit = self._cache.get(digest)
        if hit is None or now - hit[0] > self.ttl:
            with self.db.session() as s:
                row = s.scalars(select(ApiToken).where(ApiToken.token_sha256 == digest)).first()
                principal = None if row is None or row.revoked else Principal(row.token_id, row.name, row.role)
            hit = (now, principal)
            self._cache[digest] = hit
        if hit[1] is None:
            raise AuthError("unknown or revoked token", zh="访问令牌无效或已被撤销")
        return hit[1]
