"""The permission catalog and what each system role grants: code is the one source of truth for both."""

from __future__ import annotations

from dataclasses import dataclass

from webapp.core.permissions import Perm, SystemRole

PERMISSION_DESCRIPTIONS: dict[Perm, str] = {
    Perm.ORG_READ: "See the organization and its overview",
    Perm.ORG_WRITE: "Rename the organization and change its settings (require MFA)",
    Perm.ORG_DELETE: "Delete and restore the organization",
    Perm.MEMBERS_READ: "See members and pending invitations",
    Perm.MEMBERS_INVITE: "Invite people, resend and revoke invitations",
    Perm.MEMBERS_WRITE: "Change members' roles and remove members",
    Perm.ROLES_READ: "See roles, the permission matrix and role assignments",
    Perm.ROLES_WRITE: "Create and edit custom roles; grant and revoke role assignments",
    Perm.APIKEYS_WRITE: "Create and manage one's own API keys",
    Perm.APIKEYS_ADMIN: "See, disable and delete every member's API keys",
    Perm.AUDIT_READ: "Read the audit log",
    Perm.SECURITY_READ: "Read security events and break-glass history",
    Perm.BREAKGLASS_APPROVE: "Approve other members' break-glass requests and review their use",
    Perm.OPS_READ: "See system checks",
    Perm.OPS_RUN: "Start system checks",
    Perm.MISSIONS_READ: "See missions, their crews and planning settings",
    Perm.MISSIONS_WRITE: "Create, edit, delete and restore missions",
    Perm.CREW_WRITE: "Assign crew to missions and remove them",
    Perm.CATALOG_READ: "See waste materials, processing modules and recipes",
    Perm.CATALOG_WRITE: "Create, edit, import and delete waste materials, modules and recipes",
    Perm.MODULES_OPERATE: "Change a module's status and log maintenance",
    Perm.PRODUCTS_READ: "See the products of missions",
    Perm.PRODUCTS_WRITE: "Record, correct and delete products",
    Perm.SIMULATIONS_READ: "See simulation runs, their logs and results",
    Perm.SIMULATIONS_RUN: "Start, cancel, re-run and delete simulation runs",
    Perm.COMMENTS_WRITE: "Comment on missions, crew, catalog items, runs and products; edit one's own comments",
    Perm.COMMENTS_MODERATE: "Delete other members' comments",
    Perm.ATTACHMENTS_WRITE: "Upload files to comments, missions, modules, runs and products; delete one's own",
    Perm.SEARCH_REINDEX: "Rebuild the organization's search index",
    Perm.BILLING_READ: "See the plan, seats, usage, invoices and payments",
    Perm.BILLING_MANAGE: "Change the plan and seats, cancel or resume, buy credits",
    Perm.WEBHOOKS_MANAGE: "Register webhook endpoints, read their delivery logs, replay and rotate their secrets",
}

ALL_PERMISSIONS: frozenset[str] = frozenset(p.value for p in Perm)
_BASE = frozenset(
    {
        Perm.ORG_READ,
        Perm.MEMBERS_READ,
        Perm.ROLES_READ,
        Perm.OPS_READ,
        Perm.MISSIONS_READ,
        Perm.CATALOG_READ,
        Perm.PRODUCTS_READ,
        Perm.SIMULATIONS_READ,
    }
)
_RUN_MISSIONS = frozenset(
    {
        Perm.MISSIONS_WRITE,
        Perm.CREW_WRITE,
        Perm.CATALOG_WRITE,
        Perm.MODULES_OPERATE,
        Perm.PRODUCTS_WRITE,
        Perm.SIMULATIONS_RUN,
        Perm.COMMENTS_WRITE,
        Perm.ATTACHMENTS_WRITE,
    }
)


@dataclass(frozen=True)
class SystemRoleSpec:
    """A built-in role: its display name, what it is for, and its grants."""

    key: SystemRole
    name: str
    description: str
    permissions: frozenset[str]


SYSTEM_ROLES: dict[str, SystemRoleSpec] = {
    spec.key.value: spec
    for spec in (
        SystemRoleSpec(
            SystemRole.OWNER, "Owner", "Full control, including deleting the organization.", ALL_PERMISSIONS
        ),
        SystemRoleSpec(
            SystemRole.ADMIN,
            "Admin",
            "Runs the organization day to day; cannot delete it.",
            ALL_PERMISSIONS - {Perm.ORG_DELETE, Perm.BILLING_MANAGE},
        ),
        SystemRoleSpec(
            SystemRole.MISSION_COMMANDER,
            "Mission commander",
            "Leads missions and their crews.",
            _BASE | _RUN_MISSIONS | {Perm.OPS_RUN, Perm.APIKEYS_WRITE, Perm.MEMBERS_INVITE, Perm.COMMENTS_MODERATE},
        ),
        SystemRoleSpec(
            SystemRole.CREW_MEMBER,
            "Crew member",
            "Works on missions: waste, modules, runs.",
            _BASE
            | {
                Perm.OPS_RUN,
                Perm.APIKEYS_WRITE,
                Perm.MODULES_OPERATE,
                Perm.PRODUCTS_WRITE,
                Perm.SIMULATIONS_RUN,
                Perm.COMMENTS_WRITE,
                Perm.ATTACHMENTS_WRITE,
            },
        ),
        SystemRoleSpec(
            SystemRole.ANALYST,
            "Analyst",
            "Plans and compares simulation runs.",
            _BASE
            | {
                Perm.OPS_RUN,
                Perm.APIKEYS_WRITE,
                Perm.CATALOG_WRITE,
                Perm.SIMULATIONS_RUN,
                Perm.COMMENTS_WRITE,
                Perm.ATTACHMENTS_WRITE,
            },
        ),
        SystemRoleSpec(
            SystemRole.BILLING_MANAGER,
            "Billing manager",
            "Plans, invoices and payment methods.",
            _BASE | {Perm.BILLING_READ, Perm.BILLING_MANAGE},
        ),
        SystemRoleSpec(
            SystemRole.PRIVACY_OFFICER,
            "Privacy officer",
            "Consents, data exports and erasure.",
            _BASE | {Perm.AUDIT_READ},
        ),
        SystemRoleSpec(
            SystemRole.SECURITY_OFFICER,
            "Security officer",
            "Audit log, security events, API keys and break-glass approvals.",
            _BASE | {Perm.AUDIT_READ, Perm.SECURITY_READ, Perm.BREAKGLASS_APPROVE, Perm.APIKEYS_ADMIN, Perm.OPS_RUN},
        ),
        SystemRoleSpec(SystemRole.VIEWER, "Viewer", "Read-only access.", _BASE),
    )
}


def system_role_permissions(key: str) -> frozenset[str]:
    """Grants of a built-in role (empty for an unknown key)."""
    spec = SYSTEM_ROLES.get(key)
    return frozenset(str(p) for p in spec.permissions) if spec else frozenset()


def role_permissions(key: str, is_system: bool, stored: list[str] | tuple[str, ...] | None) -> frozenset[str]:
    """What a role grants: system roles from code, custom roles from their row (unknown names dropped)."""
    if is_system:
        return system_role_permissions(key)
    return frozenset(stored or ()) & ALL_PERMISSIONS


def unknown_permissions(names) -> list[str]:
    """The names in `names` that are not in the catalog."""
    return sorted(set(names) - ALL_PERMISSIONS)
