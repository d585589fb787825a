"""Who did something: a staff user, an API client, or the system (R-FSM-2 records it)."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser


@dataclass(frozen=True)
class Actor:
    kind: str  # "user" | "client" | "system"
    name: str
    user: AbstractBaseUser | None = None

    @classmethod
    def for_user(cls, user: AbstractBaseUser, *, via_api: bool = False) -> Actor:
        return cls(kind="client" if via_api else "user", name=user.get_username(), user=user)

    @property
    def user_id(self) -> int | None:
        return self.user.pk if self.user is not None else None


SYSTEM = Actor(kind="system", name="system")
