"""Demo data for embedded dev: organization `demo` with an admin and a crew member (idempotent)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import async_sessionmaker

from webapp.billing import subscriptions as billing
from webapp.core.permissions import SystemRole
from webapp.core.tenancy import RequestContext, scope_session
from webapp.core.transaction import unit_of_work
from webapp.iam import service as iam
from webapp.iam.catalog import ALL_PERMISSIONS
from webapp.iam.queries import find_role_by_key
from webapp.identity import service as identity
from webapp.identity.queries import find_user_by_email
from webapp.organizations import service as organizations
from webapp.organizations.queries import find_membership
from webapp.privacy import consents
from webapp.privacy.enums import ConsentMethod

DEMO_ORG_SLUG = "demo"
DEMO_ORG_NAME = "Mars Settlement Alpha"
DEMO_USERS = (
    ("admin@demo.closedloop.test", "Ada Okafor", SystemRole.OWNER),
    ("crew@demo.closedloop.test", "Yuri Tanaka", SystemRole.CREW_MEMBER),
)


async def load_demo(maker: async_sessionmaker, password: str) -> list[str]:
    """Create whatever part of the demo data is missing; returns what was created."""
    created = []
    async with unit_of_work(maker) as session:
        users = {}
        for email, name, _ in DEMO_USERS:
            user = await find_user_by_email(session, email)
            if user is None:
                user = await identity.create_user(
                    session, None, email=email, name=name, password=password, verified=True
                )
                await scope_session(session, user_id=user.id)  # they accepted the terms as sign-up asks
                await consents.accept_due(session, None, user.id, ConsentMethod.SIGNUP)
                created.append(f"user {email}")
            users[email] = user
        owner = users[DEMO_USERS[0][0]]
        await scope_session(session, user_id=owner.id)
        membership = await find_membership(session, slug=DEMO_ORG_SLUG, user_id=owner.id)
        if membership is None:
            org = await organizations.create_organization(
                session,
                None,
                slug=DEMO_ORG_SLUG,
                name=DEMO_ORG_NAME,
                owner_id=owner.id,
            )
            org_id = org.id
            created.append(f"organization {DEMO_ORG_SLUG}")
            # the demo shows every feature: it is on the Crew plan, comped (no provider, nothing charged)
            await billing.comp_plan(session, org_id, "crew")
        else:
            org_id = membership.org_id
        await scope_session(session, org_id=org_id, user_id=owner.id)
        for email, _, role in DEMO_USERS[1:]:
            if await find_membership(session, slug=DEMO_ORG_SLUG, user_id=users[email].id) is None:
                await organizations.add_member(session, None, org_id=org_id, user_id=users[email].id, role=role)
                created.append(f"membership {email}")
        if await find_role_by_key(session, org_id, "emergency_responder") is None:
            # a break-glass role, so the break-glass page can be tried: crew asks, the owner approves
            acting = RequestContext(user_id=owner.id, org_id=org_id, permissions=ALL_PERMISSIONS)
            await iam.create_role(
                session,
                acting,
                name="Emergency responder",
                permissions=["members:read", "members:write", "roles:read"],
                description="Held for at most 4 hours after a second member approves.",
                break_glass=True,
            )
            created.append("role emergency_responder")
        created += await _demo_catalog_and_mission(session, org_id, owner.id, users[DEMO_USERS[1][0]].id)
    return created


async def _demo_catalog_and_mission(session, org_id, owner_id, crew_id) -> list[str]:
    """The reference catalog (organizations made before it existed lack it) and the demo mission with crew."""
    from sqlalchemy import func, select

    from webapp.catalog.models import WasteMaterial
    from webapp.catalog.service.install import install_reference_catalog
    from webapp.missions import service as missions
    from webapp.missions.models import Mission

    created = []
    acting = RequestContext(user_id=owner_id, org_id=org_id, permissions=ALL_PERMISSIONS)
    if not (await session.execute(select(func.count()).select_from(WasteMaterial))).scalar_one():
        await install_reference_catalog(session, acting, org_id)
        created.append("reference catalog")
    if (await session.execute(select(Mission.id).where(Mission.name == DEMO_ORG_NAME))).first() is None:
        mission = await missions.create_mission(
            session,
            acting,
            {
                "name": DEMO_ORG_NAME,
                "destination": "mars",
                "crew_size": 4,
                "status": "planning",
                "description": "Four crew on the surface; recycling plan for the first 500 sols.",
                "launch_date": "2031-07-10",
                "landing_date": "2031-12-10",
                "recycle_target_kg_per_day": "5",
            },
        )
        await missions.assign_crew(
            session, acting, mission.id, user_id=owner_id, crew_role="commander", specialization="Mission lead"
        )
        await missions.assign_crew(
            session,
            acting,
            mission.id,
            user_id=crew_id,
            crew_role="flight_engineer",
            specialization="ECLSS and recycling",
        )
        created.append(f"mission {DEMO_ORG_NAME}")
    return created
