"""Test data through the real services (hashing, audit rows, RLS scoping included)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from webapp.billing import subscriptions
from webapp.core.permissions import SystemRole
from webapp.core.tenancy import scope_session
from webapp.core.transaction import unit_of_work
from webapp.identity import service as identity
from webapp.organizations import service as organizations
from webapp.privacy import consents
from webapp.privacy.enums import ConsentMethod

PASSWORD = "correct horse battery staple"


@dataclass
class Member:
    """A user with their credentials and membership."""

    id: object
    email: str
    password: str
    org_id: object
    org_slug: str
    role: str


class Factory:
    """Creates organizations and members."""

    def __init__(self, maker):
        self.maker = maker

    async def org_with_owner(
        self, slug: str | None = None, name: str = "Lunar Outpost", role=SystemRole.OWNER, plan: str = "mission-control"
    ) -> Member:
        """A new organization and its first member, on `plan` (default: the largest, so tests of other features
        meet no plan limit; billing's tests choose "free")."""
        slug = slug or f"org-{secrets.token_hex(4)}"
        email = f"{slug}-owner@example.org"
        async with unit_of_work(self.maker) as session:
            user = await identity.create_user(session, None, email=email, name=f"Owner of {slug}", password=PASSWORD)
            org = await organizations.create_organization(session, None, slug=slug, name=name, owner_id=user.id)
            await consents.accept_due(session, None, user.id, ConsentMethod.SIGNUP)  # as sign-up does
            if plan != "free":
                await subscriptions.comp_plan(session, org.id, plan)
            if role != SystemRole.OWNER:
                from sqlalchemy import update

                from webapp.iam.queries import find_role_by_key
                from webapp.organizations.models import Membership

                role_row = await find_role_by_key(session, org.id, str(role))
                await session.execute(
                    update(Membership).where(Membership.user_id == user.id).values(role_id=role_row.id)
                )
        return Member(user.id, email, PASSWORD, org.id, slug, str(role))

    async def member(self, owner: Member, role=SystemRole.CREW_MEMBER, name: str = "Crew Person") -> Member:
        """Another user in `owner`'s organization."""
        email = f"{owner.org_slug}-{secrets.token_hex(3)}@example.org"
        async with unit_of_work(self.maker) as session:
            user = await identity.create_user(session, None, email=email, name=name, password=PASSWORD)
            await scope_session(session, user_id=user.id)
            await consents.accept_due(session, None, user.id, ConsentMethod.SIGNUP)
            await scope_session(session, org_id=owner.org_id, user_id=owner.id)
            await organizations.add_member(session, None, org_id=owner.org_id, user_id=user.id, role=role)
        return Member(user.id, email, PASSWORD, owner.org_id, owner.org_slug, str(role))

    async def join(self, owner: Member, user: Member, role=SystemRole.CREW_MEMBER) -> Member:
        """`user`, a member elsewhere, joins `owner`'s organization too."""
        async with unit_of_work(self.maker) as session:
            await scope_session(session, org_id=owner.org_id, user_id=owner.id)
            await organizations.add_member(session, None, org_id=owner.org_id, user_id=user.id, role=role)
        return Member(user.id, user.email, user.password, owner.org_id, owner.org_slug, str(role))

    async def platform_admin(self) -> Member:
        """A ClosedLoop staff account that belongs to no organization."""
        email = f"staff-{secrets.token_hex(3)}@closedloop.test"
        async with unit_of_work(self.maker) as session:
            user = await identity.create_user(
                session, None, email=email, name="Platform Staff", password=PASSWORD, is_platform_admin=True
            )
            await scope_session(session, user_id=user.id)
            await consents.accept_due(session, None, user.id, ConsentMethod.SIGNUP)
        return Member(user.id, email, PASSWORD, None, "", "platform_admin")
