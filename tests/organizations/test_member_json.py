"""The members list builds its JSON directly: it must be exactly what the MemberOut schema (the OpenAPI document's
answer type) serialises."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

from webapp.organizations.api import member_json, member_out
from webapp.organizations.queries import MemberRow


def test_member_json_is_the_schema_serialisation():
    for joined in (datetime(2026, 12, 4, 15, 44, 55, 624542, tzinfo=UTC), datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
                   datetime(2026, 6, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))):  # fmt: skip
        row = MemberRow(uuid.uuid4(), "Ada Crew", "ada@example.org", "crew_member", joined, uuid.uuid4(),
                        "Crew member", 3, True, True)  # fmt: skip
        assert member_json(row) == member_out(row).model_dump(mode="json")
