"""The account page and /me: profile with optimistic locking, email change by link, password change,
email preferences, and deactivation with a deletion request."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

from tests.conftest import csrf_from
from tests.helpers import login, token_headers


async def _me_page(client) -> tuple[str, str]:
    page = await (await client.get("/me")).get_data(as_text=True)
    return page, csrf_from(page)


async def test_profile_saves_and_a_stale_form_shows_the_conflict(app, client, factory, count_rows):
    owner = await factory.org_with_owner()
    await login(client, owner.email, owner.password)
    page, token = await _me_page(client)
    assert 'name="version" type="hidden" value="1"' in page
    assert "your settings" in page and "Times show as UTC" in page  # format and zone live in the registry
    form = {"csrf_token": token, "version": "1", "name": "Ada Lunar"}
    saved = await client.post("/me", form=form, headers={"HX-Request": "true"})
    assert saved.status_code == 200 and "Profile saved." in saved.headers["HX-Trigger"]  # a toast
    assert await count_rows("audit_logs", "action = 'user.profile_update' AND entity_id = :u", u=str(owner.id)) == 1

    stale = await client.post("/me", form=dict(form, name="Someone Else"), headers={"HX-Request": "true"})
    body = await stale.get_data(as_text=True)
    assert stale.status_code == 409 and "Someone saved this profile while you were editing" in body
    conflict = body.split('class="conflict-table')[1].split("</table>")[0]  # theirs beside yours
    assert "<td>Ada Lunar</td><td>Someone Else</td>" in conflict
    assert 'value="Someone Else"' in body  # what they typed is still in the form
    assert 'name="version" type="hidden" value="2"' in body  # saving again overrides knowingly

    bad = await client.post("/me", form=dict(form, version="2", name="x" * 121))
    assert bad.status_code == 422
    assert await count_rows("users", "id = :u AND name = 'Ada Lunar'", u=owner.id) == 1


async def test_time_zone_and_date_format_are_settings_every_page_reads(client, factory, count_rows):
    owner = await factory.org_with_owner()
    await login(client, owner.email, owner.password)
    page = await (await client.get("/me/settings")).get_data(as_text=True)
    assert 'id="setting-profile-timezone"' in page and 'id="setting-profile-locale"' in page
    token = csrf_from(page)
    for key, value in (("profile.timezone", "Europe/Berlin"), ("profile.locale", "en-GB")):
        saved = await client.post("/me/settings", form={"csrf_token": token, "key": key, "value": value})
        assert saved.status_code == 303
    rows = "scope = 'user' AND user_id = :u AND key LIKE 'profile.%'"
    assert await count_rows("settings", rows, u=owner.id) == 2
    # the session lookup reads them (no second query): times on any page are in the chosen zone and format
    sessions = await (await client.get("/me/sessions")).get_data(as_text=True)
    assert ("CET" in sessions or "CEST" in sessions) and re.search(r"\b\d{1,2} [A-Z][a-z]{2} 20\d\d\b", sessions)
    refused = await client.post(
        "/me/settings", form={"csrf_token": token, "key": "profile.timezone", "value": "Mars/Olympus"}
    )
    assert (
        refused.status_code == 303
        and await count_rows("settings", rows + " AND value = '\"Europe/Berlin\"'", u=owner.id) == 1
    )
    audits = "action = 'setting.change' AND after ->> 'key' LIKE 'profile.%' AND actor_user_id = :u"
    assert await count_rows("audit_logs", audits, u=owner.id) == 2


async def test_me_over_json_with_version_check(app, factory):
    owner = await factory.org_with_owner()
    api = app.test_client()
    auth = await token_headers(api, owner)
    me = await (await api.get("/api/v1/me", headers=auth)).get_json()
    assert me["email"] == owner.email and me["version"] == 1 and "password_hash" not in me
    assert me["email_preferences"] == {"approval_requests": True, "invitation_accepted": True, "mentions": True}
    updated = await api.patch("/api/v1/me", json={"version": 1, "locale": "en-US"}, headers=auth)
    assert updated.status_code == 200 and (await updated.get_json())["locale"] == "en-US"
    assert (await updated.get_json())["version"] == 2  # the profile's version guards its settings too
    stale = await api.patch("/api/v1/me", json={"version": 1, "locale": "en-GB"}, headers=auth)
    assert stale.status_code == 409 and (await stale.get_json())["details"]["current"]["locale"] == "en-US"
    invalid = await api.patch("/api/v1/me", json={"timezone": "Nowhere/City", "locale": "xx"}, headers=auth)
    assert invalid.status_code == 422  # the document names the locales: the body is refused at the schema
    assert (await invalid.get_json())["details"] == {
        "fields": {"locale": ["Input should be 'en', 'en-US' or 'en-GB'"]},
        "source": "schema",
    }
    no_such_zone = await api.patch("/api/v1/me", json={"timezone": "Nowhere/City"}, headers=auth)
    assert no_such_zone.status_code == 422  # a zone is a rule of the service (the IANA list), not of the schema
    assert set((await no_such_zone.get_json())["details"]["fields"]) == {"timezone"}
    prefs = await api.patch(
        "/api/v1/me/preferences/email", json={"preferences": {"invitation_accepted": False}}, headers=auth
    )
    assert (await prefs.get_json())["preferences"] == {
        "approval_requests": True,
        "invitation_accepted": False,
        "mentions": True,
    }
    unknown = await api.patch("/api/v1/me/preferences/email", json={"preferences": {"spam": True}}, headers=auth)
    assert unknown.status_code == 422


async def test_email_change_needs_the_password_and_the_new_address_confirms_it(
    app, client, factory, mailbox, deliver, count_rows
):
    owner = await factory.org_with_owner()
    other = await factory.org_with_owner()
    await login(client, owner.email, owner.password)
    _, token = await _me_page(client)
    new = f"moved-{owner.org_slug}@example.org"
    wrong = await client.post("/me/email", form={"csrf_token": token, "email": new, "current_password": "nope-nope"})
    assert wrong.status_code == 422 and "not your current password" in await wrong.get_data(as_text=True)
    taken = await client.post(
        "/me/email", form={"csrf_token": token, "email": other.email, "current_password": owner.password}
    )
    assert taken.status_code == 409
    sent = await client.post("/me/email", form={"csrf_token": token, "email": new, "current_password": owner.password})
    assert sent.status_code == 303
    assert "A confirmation link was sent to" in (await _me_page(client))[0]
    await deliver()
    link = (await mailbox.wait_for(new, "Confirm your new")).link("/me/email/confirm")
    assert new in (await mailbox.wait_for(owner.email, "change your ClosedLoop email")).text
    assert await count_rows("users", "id = :u AND email = :e", u=owner.id, e=owner.email) == 1  # not yet

    parts = urlsplit(link)
    landing = await client.get(f"{parts.path}?{parts.query}")
    raw = parse_qs(parts.query)["token"][0]
    confirm_page = await landing.get_data(as_text=True)
    done = await client.post("/me/email/confirm", form={"csrf_token": csrf_from(confirm_page), "token": raw})
    assert done.status_code == 303
    assert await count_rows("users", "id = :u AND email = :e AND email_verified_at IS NOT NULL", u=owner.id, e=new) == 1
    again = await client.post("/me/email/confirm", form={"csrf_token": csrf_from(confirm_page), "token": raw})
    assert again.status_code == 400  # single use
    assert await count_rows("security_events", "event_type = 'email.changed' AND user_id = :u", u=owner.id) == 1


async def test_password_change_can_end_other_sessions(app, client, factory, count_rows):
    owner = await factory.org_with_owner()
    elsewhere = app.test_client()
    await login(elsewhere, owner.email, owner.password)
    await login(client, owner.email, owner.password)
    _, token = await _me_page(client)
    same = await client.post(
        "/me/password",
        form={
            "csrf_token": token,
            "current_password": owner.password,
            "password": owner.password,
            "confirm": owner.password,
            "end_other_sessions": "y",
        },
    )
    assert same.status_code == 422
    changed = await client.post(
        "/me/password",
        form={
            "csrf_token": token,
            "current_password": owner.password,
            "password": "orbital debris 42",
            "confirm": "orbital debris 42",
            "end_other_sessions": "y",
        },
    )
    assert changed.status_code == 303
    assert (await client.get("/me")).status_code == 200  # this session stays
    assert (await elsewhere.get("/me")).status_code == 302  # the other one ended
    assert await count_rows("security_events", "event_type = 'password.changed' AND user_id = :u", u=owner.id) == 1


async def test_invitation_accepted_email_follows_the_inviters_preference(
    app, client, factory, mailbox, deliver, owner_engine
):
    from tests.organizations.test_invitations import _invite, _role_id, _token_of

    owner = await factory.org_with_owner()
    token = await login(client, owner.email, owner.password)
    page = await (await client.get("/me/preferences/email")).get_data(as_text=True)
    assert 'name="invitation_accepted" checked' in page
    crew_role = await _role_id(owner_engine, owner.org_id, "crew_member")

    async def invite_and_accept(email: str) -> None:
        assert (await _invite(client, token, owner, email, crew_role)).status_code == 303
        await deliver()
        raw = _token_of((await mailbox.wait_for(email, "invited you")).link("/invitations/accept"))
        guest = app.test_client()
        landing = await (await guest.get(f"/invitations/accept?token={raw}")).get_data(as_text=True)
        joined = await guest.post(
            "/invitations/accept",
            form={
                "csrf_token": csrf_from(landing),
                "token": raw,
                "name": "New Crew",
                "password": "regolith bricks 7",
                "confirm": "regolith bricks 7",
                "accept_terms": "y",
            },
        )
        assert joined.status_code == 303
        await deliver()

    first = f"first-{owner.org_slug}@example.org"
    await invite_and_accept(first)
    assert first in (await mailbox.wait_for(owner.email, "joined")).text

    off = await client.post(
        "/me/preferences/email", form={"csrf_token": token, "approval_requests": "on"}, headers={"HX-Request": "true"}
    )
    assert off.status_code == 200 and "1 of 3" in await off.get_data(as_text=True)
    assert 'name="invitation_accepted" >' in await (await client.get("/me/preferences/email")).get_data(as_text=True)
    second = f"second-{owner.org_slug}@example.org"
    await invite_and_accept(second)
    assert not [m for m in mailbox.to(owner.email) if second in m.text]  # turned off: no email about them


async def test_deactivation_stops_the_account_and_records_a_deletion_request(
    app, client, factory, count_rows, mailbox, deliver
):
    owner = await factory.org_with_owner()
    crew = await factory.member(owner)

    sole = app.test_client()
    await login(sole, owner.email, owner.password)
    _, sole_token = await _me_page(sole)
    refused = await sole.post(
        "/me/deactivate", form={"csrf_token": sole_token, "current_password": owner.password, "confirm": "y"}
    )
    assert refused.status_code == 409 and "only owner" in await refused.get_data(as_text=True)
    assert await count_rows("users", "id = :u AND status = 'active'", u=owner.id) == 1

    await login(client, crew.email, crew.password)
    api = app.test_client()
    tokens = await (
        await api.post(
            "/api/v1/auth/login", json={"email": crew.email, "password": crew.password, "organization": crew.org_slug}
        )
    ).get_json()
    _, token = await _me_page(client)
    unconfirmed = await client.post("/me/deactivate", form={"csrf_token": token, "current_password": crew.password})
    assert unconfirmed.status_code == 422
    gone = await client.post(
        "/me/deactivate",
        form={"csrf_token": token, "current_password": crew.password, "reason": "mission over", "confirm": "y"},
    )
    assert gone.status_code == 303
    assert (
        await count_rows("users", "id = :u AND status = 'deactivated' AND deactivated_at IS NOT NULL", u=crew.id) == 1
    )
    assert await count_rows("auth_sessions", "user_id = :u AND revoked_at IS NULL", u=crew.id) == 0
    assert (
        await count_rows(
            "privacy_subject_requests",
            "user_id = :u AND request_type = 'deletion' AND due_at > now() + interval '27 days'",
            u=crew.id,
        )
        == 1
    )
    assert (await client.get("/me")).status_code == 302
    me = await api.get("/api/v1/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert me.status_code == 401
    relogin = await api.post(
        "/api/v1/auth/login", json={"email": crew.email, "password": crew.password, "organization": crew.org_slug}
    )
    assert relogin.status_code == 401
    await deliver()
    assert "deactivated" in (await mailbox.wait_for(crew.email, "deactivated")).text


async def test_concurrent_edits_of_one_account_queue_up_instead_of_failing(app, factory):
    import asyncio

    owner = await factory.org_with_owner()
    api = app.test_client()
    auth = await token_headers(api, owner)
    answers = await asyncio.gather(
        *[
            app.test_client().patch(
                "/api/v1/me/preferences/email", headers=auth, json={"preferences": {"approval_requests": n % 2 == 0}}
            )
            for n in range(8)
        ]
    )
    assert [a.status_code for a in answers] == [200] * 8  # the setting's row is locked for each write in turn
    mine = await (await api.get(f"/api/v1/users/{owner.id}/settings", headers=auth)).get_json()
    approvals = next(s for s in mine["items"] if s["key"] == "email.approval_requests")
    assert approvals["source"] == "user" and approvals["version"] >= 2  # the writes that changed it each bumped it
