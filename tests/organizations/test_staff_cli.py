"""The first platform staff member is made from the command line, not in SQL — and the change is audited."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import ROOT


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "webapp.cli", *args],
        cwd=ROOT,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=120,
    )


async def test_staff_grant_and_revoke_from_the_command_line(factory, count_rows):
    member = await factory.org_with_owner()
    granted = _cli("staff", "grant", member.email.upper())  # addresses match whatever their case
    assert granted.returncode == 0 and "is now platform staff" in granted.stdout, granted.stderr
    assert await count_rows("users", "id = :u AND is_platform_admin", u=member.id) == 1
    again = _cli("staff", "grant", member.email)
    assert again.returncode == 0 and "already was" in again.stdout
    assert (
        await count_rows(
            "audit_logs",
            "action = 'platform.staff_granted' AND entity_id = :u AND metadata->>'via' = 'cli'",
            u=str(member.id),
        )
        == 1
    )
    revoked = _cli("staff", "revoke", member.email)
    assert revoked.returncode == 0 and "no longer" in revoked.stdout
    assert await count_rows("users", "id = :u AND is_platform_admin", u=member.id) == 0
    assert await count_rows("audit_logs", "action = 'platform.staff_revoked' AND entity_id = :u", u=str(member.id)) == 1
    missing = _cli("staff", "grant", "nobody@example.org")
    assert missing.returncode == 1 and "No account uses nobody@example.org" in missing.stderr
