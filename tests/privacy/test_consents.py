"""Consents: sign-up records the documents that need consent (and product news when chosen) with proof hashes that
recompute; a new version that needs consent is asked for at the next sign-in, and nothing else is reachable until it
is accepted; withdrawing product news is one click and stops mail already queued; the API reads and writes the
same records."""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, select, text

from tests.conftest import csrf_from
from tests.helpers import login
from webapp.core.tenancy import RequestContext, scope_session
from webapp.core.transaction import unit_of_work
from webapp.mail.enums import EmailStatus
from webapp.mail.models import OutboxEmail
from webapp.mail.service import deliver_email
from webapp.privacy import consents, marketing
from webapp.privacy.enums import ConsentDecision, ConsentMethod, PolicyDocument
from webapp.privacy.models import PolicyVersion, UserConsent


async def _sign_up(client, *, product_news: bool) -> tuple[str, str]:
    suffix = secrets.token_hex(4)
    email, password = f"consent-{suffix}@example.org", "regolith sintering at dawn"
    form = {
        "csrf_token": csrf_from(await (await client.get("/signup")).get_data(as_text=True)),
        "name": "Ada Okafor", "email": email, "password": password, "org_name": "Rim Base",
        "org_slug": f"rim-{suffix}", "accept_terms": "y",
    }  # fmt: skip
    if product_news:
        form["product_news"] = "y"
    answer = await client.post("/signup", form=form, headers={"User-Agent": "ConsentTest/1.0"})
    assert answer.status_code == 303, await answer.get_data(as_text=True)
    return email, password


async def _decisions(owner_engine, email: str) -> list:
    async with owner_engine.connect() as conn:
        return (
            await conn.execute(
                text(
                    "SELECT c.document, c.decision, c.method, c.user_agent, v.version FROM privacy_user_consents c "
                    "JOIN users u ON u.id = c.user_id JOIN privacy_policy_versions v ON v.id = c.version_id "
                    "WHERE u.email = :e ORDER BY c.decided_at, c.document"
                ),
                {"e": email},
            )
        ).all()


async def test_sign_up_records_the_required_consents_with_proofs_that_recompute(app, owner_engine, maker):
    client = app.test_client()
    email, _ = await _sign_up(client, product_news=True)
    recorded = await _decisions(owner_engine, email)
    assert sorted((r.document, r.decision, r.method, r.user_agent) for r in recorded) == [
        ("marketing_email", "granted", "signup", "ConsentTest/1.0"),
        ("privacy_notice", "granted", "signup", "ConsentTest/1.0"),
        ("terms", "granted", "signup", "ConsentTest/1.0"),
    ]
    async with owner_engine.connect() as conn:  # every proof recomputes from the row and the version's text
        user_id = (await conn.execute(text("SELECT id FROM users WHERE email = :e"), {"e": email})).scalar_one()
    async with unit_of_work(maker) as session:
        await scope_session(session, user_id=user_id)
        rows = (await session.execute(select(UserConsent, PolicyVersion).join(PolicyVersion))).all()
        assert len(rows) == 3 and all(consents.proof_holds(c, v) for c, v in rows)
        tampered = rows[0].UserConsent
        tampered.decided_at += timedelta(seconds=1)  # (in memory only) a changed fact no longer matches its proof
        assert not consents.proof_holds(tampered, rows[0].PolicyVersion)
        await session.rollback()

    # without ticking "I accept", no account is made
    refused = app.test_client()
    form = {
        "csrf_token": csrf_from(await (await refused.get("/signup")).get_data(as_text=True)),
        "name": "No Terms", "email": f"no-terms-{secrets.token_hex(3)}@example.org",
        "password": "regolith sintering at dawn", "org_name": "Nowhere",
    }  # fmt: skip
    answer = await refused.post("/signup", form=form)
    assert answer.status_code == 422 and "Accept the terms" in await answer.get_data(as_text=True)
    async with owner_engine.connect() as conn:
        found = await conn.execute(text("SELECT count(*) FROM users WHERE email = :e"), {"e": form["email"]})
        assert found.scalar_one() == 0


async def test_withdrawing_is_one_click_takes_effect_at_once_and_stops_queued_news(
    app, owner_engine, maker, settings, mailbox, deliver
):
    client = app.test_client()
    email, password = await _sign_up(client, product_news=True)
    token = csrf_from(await (await client.get("/me/privacy")).get_data(as_text=True))

    # news goes to those who said yes, over real SMTP
    subject = f"Filament from packaging foam {secrets.token_hex(3)}"
    async with unit_of_work(maker) as session:
        queued = await marketing.send_product_news(session, subject, "New recipe.", base_url=settings.base_url)
    assert queued >= 1
    await deliver()
    news = await mailbox.wait_for(email, subject)
    assert "/me/privacy" in news.text

    # one click on the privacy page: off at once
    answer = await client.post(
        "/me/privacy/consents",
        form={"csrf_token": token, "document": "marketing_email", "decision": "withdrawn"},
        headers={"HX-Request": "true"},
    )
    assert answer.status_code == 200 and "Turn on" in await answer.get_data(as_text=True)
    assert "toast" in answer.headers.get("HX-Trigger", "")
    later = f"Water from brine {secrets.token_hex(3)}"
    async with unit_of_work(maker) as session:
        await marketing.send_product_news(session, later, "Another recipe.", base_url=settings.base_url)
    async with owner_engine.connect() as conn:
        none = await conn.execute(text("SELECT count(*) FROM email_outbox WHERE subject = :s AND to_address = :e"),
                                  {"s": later, "e": email})  # fmt: skip
        assert none.scalar_one() == 0

    # mail queued before a withdrawal is held back when it would go out
    async with owner_engine.connect() as conn:
        user_id = (await conn.execute(text("SELECT id FROM users WHERE email = :e"), {"e": email})).scalar_one()
    ctx = RequestContext(user_id=user_id, ip="203.0.113.9", user_agent="ConsentTest/1.0")
    async with unit_of_work(maker) as session:
        await scope_session(session, user_id=user_id)
        news_version = await consents.get_version(session, PolicyDocument.MARKETING_EMAIL)
        await consents.decide(session, ctx, user_id, news_version, ConsentDecision.GRANTED, ConsentMethod.SETTINGS)
        pending = await marketing.send_product_news(session, f"Queued {later}", "x", base_url=settings.base_url)
        await consents.decide(session, ctx, user_id, news_version, ConsentDecision.WITHDRAWN, ConsentMethod.SETTINGS)
    assert pending >= 1
    async with owner_engine.connect() as conn:
        email_id = (
            await conn.execute(
                text("SELECT id FROM email_outbox WHERE subject = :s AND to_address = :e"),
                {"s": f"Queued {later}", "e": email},
            )
        ).scalar_one()
    status = EmailStatus.QUEUED
    for _ in range(100):  # delivered here, or by a live worker holding the row meanwhile: wait for its outcome
        await deliver_email(maker, settings, email_id)
        async with owner_engine.connect() as conn:
            status = (await conn.execute(select(OutboxEmail.status).where(OutboxEmail.id == email_id))).scalar_one()
        if status != EmailStatus.QUEUED:
            break
        await asyncio.sleep(0.1)
    assert status == EmailStatus.WITHHELD
    assert not [m for m in mailbox.to(email) if m.subject == f"Queued {later}"]

    # the terms cannot be withdrawn here: that is closing the account
    page = await client.post(
        "/me/privacy/consents", form={"csrf_token": token, "document": "terms", "decision": "withdrawn"}
    )
    assert page.status_code == 409 and "delete your account" in await page.get_data(as_text=True)
    history = await (await client.get("/me/privacy")).get_data(as_text=True)
    assert history.count("withdrawn") >= 2 and "this page" in history


@pytest.fixture
async def publish_terms(factory, maker, owner_engine):
    """Publishes version N+1 of the terms, in effect at once and needing consent; removed afterwards (every sign-in
    of the suite would be asked otherwise)."""
    staff = await factory.platform_admin()
    published = []

    async def publish() -> PolicyVersion:
        async with unit_of_work(maker) as session:
            version = await consents.publish(
                session, RequestContext(user_id=staff.id, is_platform_admin=True), PolicyDocument.TERMS,
                title="Terms of service", requires_consent=True,
                body="These terms changed: simulation results now carry a confidence band.\n",
                effective_at=datetime.now(UTC) - timedelta(seconds=1),
            )  # fmt: skip
        published.append(version.id)
        return version

    try:
        yield publish
    finally:
        async with owner_engine.begin() as conn:
            await conn.execute(delete(UserConsent).where(UserConsent.version_id.in_(published)))
            await conn.execute(delete(PolicyVersion).where(PolicyVersion.id.in_(published)))


async def test_a_new_required_version_is_asked_for_at_the_next_sign_in(app, factory, owner_engine, publish_terms):
    member = await factory.org_with_owner()  # accepted the terms in effect when they signed up
    new_terms = await publish_terms()
    client = app.test_client()
    page = await client.get("/login")
    answer = await client.post(
        "/login",
        form={"csrf_token": csrf_from(await page.get_data(as_text=True)), "email": member.email,
              "password": member.password, "next": f"/o/{member.org_slug}/missions"},
    )  # fmt: skip
    assert answer.status_code == 303 and answer.headers["Location"].startswith("/me/consent")

    # nothing else is reachable until they accept: pages go to the prompt, anything else is a 403 saying why
    elsewhere = await client.get(f"/o/{member.org_slug}/missions")
    assert elsewhere.status_code == 303 and elsewhere.headers["Location"].startswith("/me/consent?next=")
    # (a person's privacy pages and calls stay open: rights over one's data never wait on new terms)
    assert (await client.get("/api/v1/privacy/consents")).status_code == 200
    prompt = await client.get("/me/consent")
    body = await prompt.get_data(as_text=True)
    assert prompt.status_code == 200 and "confidence band" in body and "Accept and continue" in body
    refused = await client.get(f"/api/v1/organizations/{member.org_id}/missions")
    assert refused.status_code == 403 and (await refused.get_json())["details"]["consent_required"] is True

    accepted = await client.post(
        "/me/consent", form={"csrf_token": csrf_from(body), "next": f"/o/{member.org_slug}/missions"}
    )
    assert accepted.status_code == 303 and accepted.headers["Location"] == f"/o/{member.org_slug}/missions"
    assert (await client.get(f"/o/{member.org_slug}/missions")).status_code == 200
    recorded = await _decisions(owner_engine, member.email)
    assert ("terms", "granted", "prompt", new_terms.version) in [
        (r.document, r.decision, r.method, r.version) for r in recorded
    ]

    # the next sign-in does not ask again
    again = app.test_client()
    await login(again, member.email, member.password)
    assert (await again.get(f"/o/{member.org_slug}/missions")).status_code == 200


async def test_the_api_reads_and_writes_consents(app, factory, publish_terms):
    member = await factory.org_with_owner()
    new_terms = await publish_terms()
    client = app.test_client()
    answer = await client.post("/api/v1/auth/login", json={"email": member.email, "password": member.password,
                                                           "organization": member.org_slug})  # fmt: skip
    auth = {"Authorization": f"Bearer {(await answer.get_json())['access_token']}"}
    read = await (await client.get("/api/v1/privacy/consents", headers=auth)).get_json()
    terms = next(d for d in read["documents"] if d["document"] == "terms")
    assert terms["current"]["version"] == new_terms.version and terms["due"] is True and terms["granted"] is True
    stale = await client.post("/api/v1/privacy/consents", headers=auth,
                              json={"document": "terms", "granted": True, "version": 1})  # fmt: skip
    assert stale.status_code == 409 and (await stale.get_json())["details"]["current_version"] == new_terms.version
    agreed = await client.post("/api/v1/privacy/consents", headers=auth,
                               json={"document": "terms", "granted": True, "version": new_terms.version})  # fmt: skip
    assert agreed.status_code == 201
    after = await agreed.get_json()
    terms = next(d for d in after["documents"] if d["document"] == "terms")
    assert terms["due"] is False and terms["latest"]["method"] == "api" and len(terms["latest"]["proof_hash"]) == 64
    news = await client.post("/api/v1/privacy/consents", headers=auth, json={"document": "marketing_email",
                                                                             "granted": True})  # fmt: skip
    assert news.status_code == 201
    assert next(d for d in (await news.get_json())["documents"] if d["document"] == "marketing_email")["granted"]
    withdraw_terms = await client.post("/api/v1/privacy/consents", headers=auth,
                                       json={"document": "terms", "granted": False})  # fmt: skip
    assert withdraw_terms.status_code == 409
    bad = await client.post("/api/v1/privacy/consents", headers=auth, json={"document": "cookies", "granted": 1})
    assert bad.status_code in (400, 422)


async def test_documents_are_public_with_their_text_hash(app):
    client = app.test_client()
    page = await client.get("/legal/terms/v1")
    body = await page.get_data(as_text=True)
    assert page.status_code == 200 and "Terms of service" in body and "Version 1" in body
    assert (await client.get("/legal/cookies")).status_code == 404
    assert (await client.get("/legal/terms/v999")).status_code == 404


async def test_staff_publish_a_version_from_their_page_and_nobody_else_can(app, factory, owner_engine):
    staff = await factory.platform_admin()
    client = app.test_client()
    await login(client, staff.email, staff.password)
    page = await (await client.get("/admin/privacy/documents")).get_data(as_text=True)
    assert "Publish a new version" in page and "Product news by email" in page
    text_body = "We now send product news at most twice a month, still only with your consent."
    try:
        refused = await client.post(
            "/admin/privacy/documents/marketing_email", form={"csrf_token": csrf_from(page), "title": "", "body": "x"}
        )
        assert refused.status_code == 422
        published = await client.post(
            "/admin/privacy/documents/marketing_email",
            form={"csrf_token": csrf_from(page), "title": "Product news by email", "body": text_body},
        )
        assert published.status_code == 303
        public = await (await app.test_client().get("/legal/marketing_email")).get_data(as_text=True)
        assert "twice a month" in public and "Version 2" in public
        async with owner_engine.connect() as conn:
            audited = await conn.execute(
                text(
                    "SELECT count(*) FROM audit_logs WHERE action = 'privacy.document_published' AND actor_user_id = :u"
                ),
                {"u": staff.id},
            )
            assert audited.scalar_one() == 1

        member = await factory.org_with_owner()
        other = app.test_client()
        token = await login(other, member.email, member.password)
        assert (await other.get("/admin/privacy/documents")).status_code == 404
        sneaky = await other.post(
            "/admin/privacy/documents/terms", form={"csrf_token": token, "title": "Mine", "body": text_body}
        )
        assert sneaky.status_code == 404
    finally:
        async with owner_engine.begin() as conn:
            await conn.execute(
                text(
                    "DELETE FROM privacy_user_consents WHERE version_id IN (SELECT id FROM privacy_policy_versions "
                    "WHERE version > 1 AND body LIKE '%twice a month%')"
                )
            )
            await conn.execute(
                text("DELETE FROM privacy_policy_versions WHERE version > 1 AND body LIKE '%twice a month%'")
            )


async def test_decisions_are_append_only_and_private_at_the_database(maker, factory):
    from sqlalchemy.exc import DBAPIError

    first, second = await factory.org_with_owner(), await factory.org_with_owner()
    async with maker() as session, session.begin():
        await scope_session(session, user_id=first.id)
        mine = (await session.execute(text("SELECT user_id FROM privacy_user_consents"))).scalars().all()
        assert mine and set(mine) == {first.id}  # never the other person's
    for statement in (
        "UPDATE privacy_user_consents SET decision = 'withdrawn'",
        "DELETE FROM privacy_user_consents",
        "INSERT INTO privacy_policy_versions (id, document, version, title, body, text_hash, requires_consent, "
        "effective_at) VALUES (gen_random_uuid(), 'terms', 99, 't', 'b', repeat('a', 64), true, now())",
    ):
        async with maker() as session:
            await session.begin()
            await scope_session(session, user_id=second.id)
            with pytest.raises(DBAPIError, match="permission denied|row-level security"):
                await session.execute(text(statement))
            await session.rollback()
