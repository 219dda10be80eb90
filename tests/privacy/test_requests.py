"""Subject requests end to end: an access request over the API, confirmed by its emailed link, becomes a ZIP with
every registered column of the person and nothing of anyone else; an erasure leaves no trace of the person's address
or name in any text column of the database while other people's data and every foreign key hold; a legal hold stops
erasure until lifted; the internal route takes its own credential only; staff extend once and deny with a reason."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import re
import uuid
import zipfile
from datetime import datetime, timedelta

from quart.datastructures import FileStorage
from sqlalchemy import text

from tests.collaboration.test_storage_contract import PNG
from tests.helpers import api_key_headers, login, token_headers
from tests.missions.test_missions_api import MISSION
from webapp.audit.verify import verify_chain
from webapp.collaboration.storage import store_for
from webapp.core.permissions import SystemRole
from webapp.core.tenancy import enable_rls_bypass
from webapp.core.transaction import unit_of_work
from webapp.privacy import export, registry
from webapp.privacy import requests as privacy_requests
from webapp.privacy.erasure import pseudonym
from webapp.privacy.processing import Processor

FINAL = {"completed", "denied", "failed", "canceled"}
KEYS = ["missions:read", "missions:write", "attachments:write", "comments:write"]


async def process_until_settled(app, request_id, *, want=FINAL, timeout: float = 90) -> str:
    """Run the processing pass the workers run (a live worker may hold the request meanwhile: wait for it)."""
    settings = app.extensions["closedloop"]["settings"]
    processor = Processor(app.extensions["closedloop"]["sessionmaker"], store_for(settings), settings)
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        outcome = await processor.process(uuid.UUID(str(request_id)))
        if outcome.status.value in want:
            return outcome.status.value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"request {request_id} stayed {outcome.status.value}: {outcome.note}")
        await asyncio.sleep(0.5)


async def _rows(owner_engine, sql: str, **params) -> list:
    async with owner_engine.connect() as conn:
        return (await conn.execute(text(sql), params)).all()


async def _upload(client, slug: str, token: str, data: bytes, name: str) -> dict:
    headers = {"X-CSRF-Token": token}
    body = {
        "filename": name,
        "mime_type": "image/png",
        "size": len(data),
        "checksum_sha256": hashlib.sha256(data).hexdigest(),
    }
    answer = await (await client.post(f"/o/{slug}/attachments/presign", headers=headers, json=body)).get_json()
    if answer["upload"]:
        sent = await client.post(
            answer["upload"]["url"],
            form=answer["upload"]["fields"],
            files={"file": FileStorage(io.BytesIO(data), filename=name)},
        )
        assert sent.status_code == 204
    done = await client.post(f"/o/{slug}/attachments/{answer['attachment']['id']}/complete", headers=headers, json={})
    assert done.status_code == 200, await done.get_json()
    return await done.get_json()


async def _leave_traces(app, factory, owner, person, other) -> dict:
    """The person signs in, writes, uploads, sets a preference; the other person writes too (in the same org)."""
    browser = app.test_client()
    token = await login(browser, person.email, person.password)
    auth = await api_key_headers(app.test_client(), person, KEYS)
    mission = await (
        await browser.post(f"/api/v1/organizations/{owner.org_id}/missions", headers=auth, json=MISSION)
    ).get_json()
    thread = f"/o/{owner.org_slug}/comments/missions/{mission['id']}"
    mine = await browser.post(
        thread, form={"csrf_token": token, "content": f"Filter swap done; ask {other.email} about spares."}
    )
    assert mine.status_code == 303
    upload = await _upload(browser, owner.org_slug, token, PNG, "filter-photo.png")
    prefs = await browser.patch(
        "/api/v1/me/preferences/email",
        headers=await token_headers(app.test_client(), person),
        json={"preferences": {"approval_requests": False}},
    )
    assert prefs.status_code == 200, await prefs.get_json()
    other_browser = app.test_client()
    other_token = await login(other_browser, other.email, other.password)
    theirs = await other_browser.post(thread, form={"csrf_token": other_token, "content": "Spares are in bay 3."})
    assert theirs.status_code == 303
    return {"browser": browser, "token": token, "mission": mission, "upload": upload}


async def test_access_request_confirmed_by_email_exports_everything_of_the_person_and_nothing_else(
    app, factory, owner_engine, mailbox, deliver
):
    owner = await factory.org_with_owner()
    person = await factory.member(owner, SystemRole.MISSION_COMMANDER, name="Perpetua Okonkwo-Lind")
    other = await factory.member(owner, name="Zebulon Farquharsen")
    traces = await _leave_traces(app, factory, owner, person, other)
    browser = traces["browser"]

    api = app.test_client()
    auth = await token_headers(api, person)
    made = await api.post("/api/v1/privacy/requests/access", headers=auth, json={})
    body = await made.get_json()
    assert made.status_code == 202 and body["status"] == "received", body
    assert (await api.post("/api/v1/privacy/requests/access", headers=auth, json={})).status_code == 409
    request_id = body["id"]
    due = datetime.fromisoformat(body["due_at"])
    assert timedelta(days=27) < due - datetime.fromisoformat(body["requested_at"]) <= timedelta(days=31)

    # the emailed link confirms it — a page with a button (a mail scanner's GET confirms nothing)
    await deliver()
    link = re.search(r"https?://\S+/confirm\?token=\S+", (await mailbox.wait_for(person.email, "Confirm")).text)
    path = link.group(0).split("://", 1)[1].split("/", 1)[1]
    page = await browser.get("/" + path)
    assert page.status_code == 200 and "Confirm the export" in await page.get_data(as_text=True)
    assert (await _rows(owner_engine, "SELECT status FROM privacy_subject_requests WHERE id = :i", i=request_id))[0][
        0
    ] == "received"
    forged = await browser.post(
        f"/me/privacy/requests/{request_id}/confirm", form={"csrf_token": traces["token"], "token": "forged"}
    )
    assert forged.status_code == 422
    token = re.search(r"token=([^\s&]+)", path).group(1)
    confirmed = await browser.post(
        f"/me/privacy/requests/{request_id}/confirm", form={"csrf_token": traces["token"], "token": token}
    )
    assert confirmed.status_code == 303
    assert await process_until_settled(app, request_id) == "completed"

    # the email's link (sign-in needed) leads to the archive; someone else gets a 404
    await deliver()
    ready = await mailbox.wait_for(person.email, "export is ready")
    archive_path = re.search(r"/me/privacy/requests/[0-9a-f-]+/archive", ready.text).group(0)
    other_browser = app.test_client()
    await login(other_browser, other.email, other.password)
    assert (await other_browser.get(archive_path)).status_code == 404
    redirect = await browser.get(archive_path)
    assert redirect.status_code == 303
    download = await browser.get(redirect.headers["Location"])
    assert download.status_code == 200
    bundle = zipfile.ZipFile(io.BytesIO(await download.get_data()))
    everything = b"".join(bundle.read(n) for n in bundle.namelist())

    # nothing about anyone else: the other person's address (quoted in the person's comment) and name are absent
    assert other.email.encode() not in everything and b"Zebulon" not in everything
    assert export.SOMEONE_ELSE.encode() in everything
    # the file the person uploaded, byte for byte
    files = [n for n in bundle.namelist() if n.startswith("files/")]
    assert [bundle.read(n) for n in files] == [PNG]

    # every registered column of every table that holds the person's rows, row for row
    async with app.extensions["closedloop"]["sessionmaker"]() as session:
        tables = [t for t in await registry.tables(session) if t.about_people]
    checked = set()
    for table in tables:
        name = (
            table.name if table.subject_column in ("id", "user_id", "email") else f"{table.name}.{table.subject_column}"
        )
        subject = person.email if table.by_email else person.id
        in_db = [
            r[0]
            for r in await _rows(
                owner_engine, f"SELECT to_jsonb(t) FROM {table.name} t WHERE {table.subject_column} = :s", s=subject
            )
        ]
        exported = json.loads(bundle.read(f"tables/{name}.json"))
        # the export happened before these last emails and sign-ins: compare the rows it could see
        by_id = {row.get("id"): row for row in exported}
        for db_row in in_db:
            if (
                table.name
                in (
                    "email_outbox",
                    "auth_sessions",
                    "audit_logs",
                    "security_events",
                    "privacy_request_events",
                    "privacy_subject_requests",
                )
                and db_row.get("id") not in by_id
            ):
                continue  # written after the export was made (the "ready" email, the download's own audit row)
            row = by_id[db_row.get("id")]
            for entry in table.entries:
                value, shown = db_row[entry.column_name], row[entry.column_name]
                if entry.category.value == "credentials":
                    assert shown in (None, export.WITHHELD)
                elif isinstance(value, str) and export.EMAIL.search(value) and shown != value:
                    assert export.SOMEONE_ELSE in json.dumps(shown)
                else:
                    assert shown == value or json.dumps(shown) == json.dumps(value), (table.name, entry.column_name)
                checked.add(table.name)
    assert {
        "users",
        "auth_sessions",
        "api_keys",
        "comments",
        "attachments",
        "settings",
        "privacy_user_consents",
        "audit_logs",
        "email_outbox",
    } <= checked
    manifest = json.loads(bundle.read("manifest.json"))
    assert manifest["subject"] == str(person.id) and manifest["tables"]["users"]["rows"] == 1
    users = json.loads(bundle.read("tables/users.json"))
    assert users[0]["email"] == person.email and users[0]["password_hash"] == export.WITHHELD

    listed = await (await api.get("/api/v1/privacy/requests", headers=auth)).get_json()
    mine = next(r for r in listed["items"] if r["id"] == request_id)
    assert mine["status"] == "completed" and mine["archive_url"].endswith("/archive")
    assert [s["status"] for s in mine["steps"]] == ["received", "identity_verified", "in_progress", "completed"]
    assert [s["by"] for s in mine["steps"]][:2] == ["you", "you"] and mine["steps"][-1]["by"] == "worker"


async def _text_columns(owner_engine) -> list[tuple[str, str]]:
    rows = await _rows(
        owner_engine,
        "SELECT c.table_name, c.column_name FROM information_schema.columns c JOIN information_schema.tables t "
        "ON t.table_name = c.table_name AND t.table_schema = c.table_schema WHERE c.table_schema = 'public' "
        "AND t.table_type = 'BASE TABLE' AND c.data_type IN ('text', 'character varying', 'jsonb', 'json', "
        "'character', 'inet', 'citext', 'ARRAY')",
    )
    return [(r[0], r[1]) for r in rows]


async def _scan(owner_engine, needles: list[str]) -> list[tuple]:
    """Every (table, column, needle, rows) where a text, JSON, address or array column contains a needle."""
    found = []
    for table, column in await _text_columns(owner_engine):
        for needle in needles:
            hits = await _rows(
                owner_engine, f'SELECT count(*) FROM "{table}" WHERE "{column}"::text ILIKE :n', n=f"%{needle}%"
            )
            if hits[0][0]:
                found.append((table, column, needle, hits[0][0]))
    return found


async def test_erasure_leaves_no_trace_of_the_person_while_others_data_and_foreign_keys_hold(
    app, factory, owner_engine, deliver, count_rows
):
    owner = await factory.org_with_owner()
    person = await factory.member(owner, SystemRole.MISSION_COMMANDER, name="Quillon Vantablack")
    other = await factory.member(owner, name="Ottoline Marchbanks")
    traces = await _leave_traces(app, factory, owner, person, other)
    # an invitation to the person's address from another organization, and a failed sign-in naming it
    elsewhere = await factory.org_with_owner()
    inviter = app.test_client()
    invite_token = await login(inviter, elsewhere.email, elsewhere.password)
    (role_id,) = [
        r[0]
        for r in await _rows(
            owner_engine, "SELECT id FROM roles WHERE organization_id = :o AND key = 'crew_member'", o=elsewhere.org_id
        )
    ]
    invited = await inviter.post(
        f"/o/{elsewhere.org_slug}/members/invitations",
        form={"csrf_token": invite_token, "email": person.email, "role_id": str(role_id)},
    )
    assert invited.status_code in (200, 303), await invited.get_data(as_text=True)
    bad = app.test_client()
    await bad.post(
        "/api/v1/auth/login", json={"email": person.email, "password": "not it at all", "organization": owner.org_slug}
    )
    assert await count_rows("invitations", "lower(email) = lower(:e)", e=person.email) >= 1
    comment_ids = [r[0] for r in await _rows(owner_engine, "SELECT id FROM comments WHERE author_id = :u", u=person.id)]
    assert comment_ids

    needles = [person.email, "Quillon", "Vantablack"]
    before = {(table, column) for table, column, _, _ in await _scan(owner_engine, needles)}
    # the scan sees them where they are: the account, its sessions' mail, invitations, the audit trail
    assert {("users", "email"), ("users", "name"), ("invitations", "email"), ("email_outbox", "to_address")} <= before
    assert any(table.startswith("audit_logs") for table, _ in before), before

    # the person asks on their privacy page: password again, a deliberate tick; the account ends at once
    browser = traces["browser"]
    page = await browser.get("/me/privacy")
    assert "Erase your account" in await page.get_data(as_text=True)
    token = traces["token"]
    asked = await browser.post(
        "/me/privacy/requests/deletion",
        form={"csrf_token": token, "current_password": person.password, "confirm": "y", "reason": "mission over"},
    )
    assert asked.status_code == 303 and asked.headers["Location"].endswith("/login")
    (request_id,) = [
        r[0]
        for r in await _rows(
            owner_engine,
            "SELECT id FROM privacy_subject_requests WHERE user_id = :u AND request_type = 'deletion'",
            u=person.id,
        )
    ]
    await deliver()  # the account's last emails leave first
    assert await process_until_settled(app, request_id) == "completed"
    assert await process_until_settled(app, request_id) == "completed"  # again: nothing changes

    # no text column anywhere holds the address or the name
    found = await _scan(owner_engine, needles)
    assert found == []

    # what others rely on stays, under the pseudonym; foreign keys hold; other people are untouched
    (account,) = await _rows(owner_engine, "SELECT name, status, erased_at FROM users WHERE id = :u", u=person.id)
    assert account.name == pseudonym(person.id) and account.status == "deactivated" and account.erased_at
    assert await count_rows("comments c JOIN users u ON u.id = c.author_id", "c.author_id = :u", u=person.id) == len(
        comment_ids
    )
    assert await count_rows("auth_sessions", "user_id = :u", u=person.id) == 0
    assert await count_rows("api_keys", "user_id = :u", u=person.id) == 0
    assert await count_rows("memberships", "user_id = :u AND deleted_at IS NULL", u=person.id) == 0
    assert await count_rows("users", "id = :u AND name = 'Ottoline Marchbanks'", u=other.id) == 1
    assert await count_rows("comments", "author_id = :u", u=other.id) == 1
    other_browser = app.test_client()
    await login(other_browser, other.email, other.password)
    thread = await other_browser.get(f"/o/{owner.org_slug}/missions/{traces['mission']['id']}")
    html = await thread.get_data(as_text=True)
    assert pseudonym(person.id) in html and "Spares are in bay 3." in html
    again = await app.test_client().post(
        "/api/v1/auth/login", json={"email": person.email, "password": person.password, "organization": owner.org_slug}
    )
    assert again.status_code == 401
    # the audit trail still verifies: the rows that quoted the person were redacted, their links hold
    maker = app.extensions["closedloop"]["sessionmaker"]
    async with unit_of_work(maker) as session:
        await enable_rls_bypass(session, reason="test: verify chains after erasure")
        reports = [await verify_chain(session, org) for org in (owner.org_id, elsewhere.org_id, None)]
    assert all(r.ok for r in reports), [r.broken for r in reports]
    assert sum(r.redacted for r in reports) >= 1
    steps = await _rows(
        owner_engine,
        "SELECT status, details FROM privacy_request_events WHERE request_id = :r ORDER BY at",
        r=request_id,
    )
    assert [s.status for s in steps] == ["received", "identity_verified", "in_progress", "completed"]
    assert steps[-1].details["auth_sessions"]["action"] == "deleted"


async def _staff_client(app, factory):
    staff = await factory.platform_admin()
    client = app.test_client()
    token = await login(client, staff.email, staff.password)
    return client, token


async def test_a_legal_hold_stops_erasure_until_lifted_and_both_are_audited(
    app, factory, owner_engine, deliver, mailbox, count_rows
):
    owner = await factory.org_with_owner()
    person = await factory.member(owner, name="Held Person")
    staff, staff_token = await _staff_client(app, factory)
    placed = await staff.post(
        "/admin/privacy/holds",
        form={
            "csrf_token": staff_token,
            "subject": person.email,
            "reference": "CASE-2026-114",
            "reason": "Litigation over the habitat leak.",
        },
    )
    assert placed.status_code == 303
    assert "CASE-2026-114" in await (await staff.get("/admin/privacy/holds")).get_data(as_text=True)

    # a deletion request over the API: received, then confirmed by the emailed link (which ends the account)
    api = app.test_client()
    made = await api.post(
        "/api/v1/privacy/requests/deletion", headers=await token_headers(api, person), json={"reason": "done here"}
    )
    assert made.status_code == 202, await made.get_json()
    request_id = (await made.get_json())["id"]
    await deliver()
    link = re.search(
        r"/me/privacy/requests/\S+/confirm\?token=\S+", (await mailbox.wait_for(person.email, "Confirm")).text
    ).group(0)
    browser = app.test_client()
    token = await login(browser, person.email, person.password)
    assert "Erase my account" in await (await browser.get(link)).get_data(as_text=True)
    confirmed = await browser.post(link.split("?")[0], form={"csrf_token": token, "token": link.split("token=")[1]})
    assert confirmed.status_code == 303
    await deliver()
    assert await process_until_settled(app, request_id, want={"identity_verified"} | FINAL) == "identity_verified"
    (held,) = await _rows(
        owner_engine, "SELECT status, status_reason FROM privacy_subject_requests WHERE id = :r", r=request_id
    )
    assert held.status == "identity_verified" and "legal hold" in held.status_reason
    assert await count_rows("users", "id = :u AND name = 'Held Person' AND erased_at IS NULL", u=person.id) == 1
    detail = await (await staff.get(f"/admin/privacy/requests/{request_id}")).get_data(as_text=True)
    assert "on legal hold" in detail and "CASE-2026-114" in detail

    (hold_id,) = [
        r[0] for r in await _rows(owner_engine, "SELECT id FROM privacy_legal_holds WHERE user_id = :u", u=person.id)
    ]
    refused = await staff.post(f"/admin/privacy/holds/{hold_id}/lift", form={"csrf_token": staff_token})
    assert refused.status_code == 422
    lifted = await staff.post(
        f"/admin/privacy/holds/{hold_id}/lift", form={"csrf_token": staff_token, "reason": "Case settled."}
    )
    assert lifted.status_code == 303
    assert await process_until_settled(app, request_id) == "completed"
    assert await count_rows("users", "id = :u AND erased_at IS NOT NULL", u=person.id) == 1
    audited = await _rows(
        owner_engine,
        "SELECT action FROM audit_logs WHERE entity_type = 'privacy_legal_hold' AND entity_id = :h ORDER BY created_at",
        h=str(hold_id),
    )
    assert [a.action for a in audited] == ["privacy.legal_hold_placed", "privacy.legal_hold_lifted"]


async def test_the_internal_route_takes_only_its_credential_and_a_finished_request_stays_as_it_is(
    app, factory, settings, owner_engine
):
    owner = await factory.org_with_owner()
    browser = app.test_client()
    token = await login(browser, owner.email, owner.password)
    asked = await browser.post(
        "/me/privacy/requests/access", form={"csrf_token": token, "current_password": owner.password}
    )
    assert asked.status_code == 303
    (request_id,) = [
        r[0]
        for r in await _rows(owner_engine, "SELECT id FROM privacy_subject_requests WHERE user_id = :u", u=owner.id)
    ]
    path = f"/internal/privacy/process/{request_id}"
    keyed = await api_key_headers(app.test_client(), owner, ["missions:read"])
    assert (await app.test_client().post(path)).status_code == 401
    assert (await browser.post(path, headers={"X-CSRF-Token": token})).status_code == 401
    assert (await app.test_client().post(path, headers=keyed)).status_code == 401
    usage_token = settings.internal_tokens("usage")[0]
    assert (await app.test_client().post(path, headers={"Authorization": f"Bearer {usage_token}"})).status_code == 401
    credential = {"Authorization": f"Bearer {settings.internal_tokens('privacy')[0]}"}
    await process_until_settled(app, request_id)
    before = await _rows(
        owner_engine,
        "SELECT status, archive_key, attempts, updated_at FROM privacy_subject_requests WHERE id = :r",
        r=request_id,
    )
    steps = await _rows(owner_engine, "SELECT count(*) FROM privacy_request_events WHERE request_id = :r", r=request_id)
    again = await app.test_client().post(path, headers=credential)
    assert again.status_code == 200 and (await again.get_json())["status"] == "completed"
    assert (
        await _rows(
            owner_engine,
            "SELECT status, archive_key, attempts, updated_at FROM privacy_subject_requests WHERE id = :r",
            r=request_id,
        )
        == before
    )
    assert (
        await _rows(owner_engine, "SELECT count(*) FROM privacy_request_events WHERE request_id = :r", r=request_id)
        == steps
    )
    missing = await app.test_client().post(f"/internal/privacy/process/{uuid.uuid4()}", headers=credential)
    assert missing.status_code == 404


async def test_staff_extend_once_with_a_reason_deny_with_one_and_see_overdue_requests(
    app, factory, owner_engine, deliver, mailbox
):
    owner = await factory.org_with_owner()
    person = await factory.member(owner)
    api = app.test_client()
    auth = await token_headers(api, person)
    access = (await (await api.post("/api/v1/privacy/requests/access", headers=auth, json={})).get_json())["id"]
    deletion = await api.post("/api/v1/privacy/requests/deletion", headers=auth, json={})
    assert deletion.status_code == 202
    deletion_id = (await deletion.get_json())["id"]
    sole = await api.post(
        "/api/v1/privacy/requests/deletion", headers=await token_headers(app.test_client(), owner), json={}
    )
    assert sole.status_code == 409 and "only owner" in (await sole.get_json())["message"]

    staff_member = await factory.platform_admin()
    staff = app.test_client()
    token = await login(staff, staff_member.email, staff_member.password)
    queue = await (await staff.get("/admin/privacy/requests")).get_data(as_text=True)
    assert person.email in queue
    short = await staff.post(f"/admin/privacy/requests/{access}/extend", form={"csrf_token": token, "reason": "x"})
    assert short.status_code == 422
    reason = "The archive includes a large set of uploads."
    extended = await staff.post(
        f"/admin/privacy/requests/{access}/extend", form={"csrf_token": token, "reason": reason}
    )
    assert extended.status_code == 303
    twice = await staff.post(f"/admin/privacy/requests/{access}/extend", form={"csrf_token": token, "reason": reason})
    assert twice.status_code == 409
    listed = await (await api.get("/api/v1/privacy/requests", headers=auth)).get_json()
    mine = next(r for r in listed["items"] if r["id"] == access)
    requested, due = datetime.fromisoformat(mine["requested_at"]), datetime.fromisoformat(mine["due_at"])
    assert timedelta(days=88) <= due - requested <= timedelta(days=93) and mine["extension_reason"] == reason
    await deliver()
    assert "more time" in (await mailbox.wait_for(person.email, "more time")).subject

    denied = await staff.post(
        f"/admin/privacy/requests/{deletion_id}/deny",
        form={"csrf_token": token, "reason": "We must keep this account for an open audit."},
    )
    assert denied.status_code == 303
    await deliver()
    assert "open audit" in (await mailbox.wait_for(person.email, "denied")).text

    # an overdue request is flagged on the queue
    async with owner_engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE privacy_subject_requests SET requested_at = now() - interval '40 days', "
                "due_at = now() - interval '9 days' WHERE id = :r"
            ),
            {"r": access},
        )
    queue = await (await staff.get("/admin/privacy/requests")).get_data(as_text=True)
    assert "overdue" in queue.lower()
    # and every morning staff are emailed the list
    async with unit_of_work(app.extensions["closedloop"]["sessionmaker"]) as session:
        await enable_rls_bypass(session, reason="test: the overdue list")
        assert await privacy_requests.flag_overdue(session, "http://closedloop.test") >= 1
    await deliver()
    listing = await mailbox.wait_for(staff_member.email, "overdue")
    assert access in listing.text and "/admin/privacy/requests" in listing.text
    # a person can cancel an open request of their own, not someone else's
    browser = app.test_client()
    person_token = await login(browser, person.email, person.password)
    other_browser = app.test_client()
    other_token = await login(other_browser, owner.email, owner.password)
    assert (
        await other_browser.post(f"/me/privacy/requests/{access}/cancel", form={"csrf_token": other_token})
    ).status_code == 404
    status = (await _rows(owner_engine, "SELECT status FROM privacy_subject_requests WHERE id = :r", r=access))[0][0]
    if status in ("received", "identity_verified"):
        canceled = await browser.post(f"/me/privacy/requests/{access}/cancel", form={"csrf_token": person_token})
        assert canceled.status_code == 303
