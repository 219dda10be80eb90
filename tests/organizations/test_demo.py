"""The demo data `make dev` loads: created once, complete, and a no-op the second time."""

from sqlalchemy import text

from webapp.demo import load_demo


async def test_demo_loads_once_with_members_and_a_break_glass_role(maker, owner_engine):
    first = await load_demo(maker, "demo-password-123")
    assert "organization demo" in first and "role emergency_responder" in first
    assert await load_demo(maker, "demo-password-123") == []
    async with owner_engine.connect() as conn:
        keys = set(
            (
                await conn.execute(
                    text(
                        "SELECT r.key FROM memberships m JOIN roles r ON r.id = m.role_id JOIN organizations o "
                        "ON o.id = m.organization_id WHERE o.slug = 'demo'"
                    )
                )
            ).scalars()
        )
        break_glass = (
            await conn.execute(
                text(
                    "SELECT break_glass FROM roles r JOIN organizations o ON o.id = r.organization_id "
                    "WHERE o.slug = 'demo' AND r.key = 'emergency_responder'"
                )
            )
        ).scalar_one()
    assert keys == {"owner", "crew_member"} and break_glass
