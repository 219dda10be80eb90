"""argon2id hashing with OWASP parameters (m=19 MiB, t=2, p=1)."""

from __future__ import annotations

import asyncio
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1, hash_len=32, salt_len=16)

# Verified against when the email is unknown, so a miss costs as much as a hit (no user enumeration by timing).
_DUMMY_HASH = _hasher.hash("closedloop-timing-equaliser")


def hash_password(password: str) -> str:
    """Hash a password for storage."""
    return _hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """Constant-work check; False for unknown users, wrong passwords or broken hashes."""
    try:
        return _hasher.verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    """True when the stored hash uses older parameters."""
    return _hasher.check_needs_rehash(stored_hash)


async def hash_password_async(password: str) -> str:
    """hash_password off the event loop (argon2 takes tens of milliseconds and releases the GIL)."""
    return await asyncio.to_thread(hash_password, password)


async def verify_password_async(stored_hash: str | None, password: str) -> bool:
    """verify_password off the event loop."""
    return await asyncio.to_thread(verify_password, stored_hash, password)


@cache
def _common_passwords() -> frozenset[str]:
    # zxcvbn ships a ranked list of leaked passwords; the first 10,000 cover the ~3,000 ASVS asks for
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"][:10_000])


def is_common_password(password: str) -> bool:
    """True for passwords on the leaked-password list (case-insensitive)."""
    return password.lower() in _common_passwords()
