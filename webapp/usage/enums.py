"""Usage's closed vocabularies."""

from enum import StrEnum


class EntryKind(StrEnum):
    """What a ledger entry did to the balance (credits) or to what is held of it."""

    GRANT = "grant"  # given: a plan's allowance, a courtesy
    PURCHASE = "purchase"  # bought through a one-time payment that succeeded
    CONSUME = "consume"  # spent at once
    ADJUST = "adjust"  # a correction by a billing admin or staff, either way, with a reason
    EXPIRE = "expire"  # what was left of an expiring grant
    HOLD = "hold"  # reserved for work under way (the balance stays, the available part shrinks)
    RELEASE = "release"  # a hold given back unspent
    SETTLE = "settle"  # a hold charged at the actual cost (the rest released in the same entry)


class HoldStatus(StrEnum):
    """A hold is resolved at most once."""

    HELD = "held"
    SETTLED = "settled"
    RELEASED = "released"


class Aggregation(StrEnum):
    """How a window's events become one number (Lago's aggregation types)."""

    COUNT = "count"  # how many events
    SUM = "sum"  # the sum of their quantities
    MAX = "max"  # the largest quantity
    UNIQUE_COUNT = "unique_count"  # how many distinct values of one property
    LATEST = "latest"  # the quantity of the last event


class Granularity(StrEnum):
    """The windows usage is rolled up into (UTC)."""

    HOUR = "hour"
    DAY = "day"
