"""Every role of the roles table × every organization page: allowed → 200, denied → 403.

Nothing is hand-listed: the roles come from a fresh organization's `roles` rows (plus a custom one), the
routes from the URL map, and each route's required permissions from its @requires marker."""

from __future__ import annotations

from sqlalchemy import text

from tests.helpers import login, status_of
from webapp.core.permissions import ACCESS_ATTR
from webapp.iam.catalog import role_permissions


def _org_pages(app) -> dict[str, tuple[str, ...]]:
    """GET routes under /o/<org_slug>/ without other parameters, with the permissions they require."""
    pages = {}
    for rule in app.url_map.iter_rules():
        if (
            "GET" not in rule.methods
            or not rule.rule.startswith("/o/<org_slug>")
            or set(rule.arguments) != {"org_slug"}
        ):
            continue
        access = getattr(app.view_functions[rule.endpoint], ACCESS_ATTR)
        assert access[0] == "requires", rule.rule
        pages[rule.rule] = access[1]
    return pages


async def test_every_role_gets_exactly_the_pages_its_permissions_allow(app, factory, owner_engine):
    owner = await factory.org_with_owner()
    async with owner_engine.begin() as conn:  # one custom role too, granting a slice
        await conn.execute(
            text(
                "INSERT INTO roles (id, organization_id, key, name, permissions) VALUES "
                "(gen_random_uuid(), :o, 'shift_lead', 'Shift lead', ARRAY['org:read', 'ops:read', 'members:read'])"
            ),
            {"o": owner.org_id},
        )
        roles = (
            await conn.execute(
                text(
                    "SELECT key, is_system, permissions FROM roles WHERE organization_id = :o "
                    "AND NOT break_glass AND deleted_at IS NULL"
                ),
                {"o": owner.org_id},
            )
        ).all()
    pages = _org_pages(app)
    assert len(roles) == 10 and len(pages) >= 8
    areas = {path.split("/")[3] for path in pages}
    assert {"", "members", "roles", "api-keys", "break-glass", "ops", "missions"} <= areas

    mismatches = []
    for key, is_system, stored in roles:
        member = owner if key == "owner" else await factory.member(owner, role=key)
        client = app.test_client()
        await login(client, member.email, member.password)
        granted = role_permissions(key, is_system, stored)
        for path, required in pages.items():
            expected = 200 if set(required) <= granted else 403
            status = await status_of(client, path.replace("<org_slug>", owner.org_slug))  # event streams too
            if status != expected:
                mismatches.append((key, path, required, expected, status))
    assert mismatches == []
