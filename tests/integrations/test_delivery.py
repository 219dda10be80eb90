"""Outgoing webhooks on a moved clock (each attempt is called with its `now`, no worker involved): the Svix schedule,
`Retry-After`, 410 disabling at once, five days of failures disabling and emailing the admins, dual signatures for
24 hours after a rotation — every signature checked by the `standardwebhooks` library's own verifier — and the
SSRF guard (private and metadata addresses refused at save; loopback refused in production, at save and at
delivery, even for a host name that resolves to 127.0.0.1; redirects not followed)."""

from __future__ import annotations

import dataclasses
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text, update
from standardwebhooks import Webhook, WebhookVerificationError

from tests.integrations.receiver import Receiver
from webapp.core.errors import ValidationError
from webapp.core.tenancy import RequestContext, scope_session
from webapp.integrations import delivery, egress, outbox, service
from webapp.integrations.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from webapp.mail.models import OutboxEmail

LATER = datetime.now(UTC) + timedelta(days=40)  # far enough ahead that the live sweep never finds these due


async def _endpoint(maker, settings, owner, url: str, **options) -> service.WithSecret:
    ctx = RequestContext(org_id=owner.org_id, user_id=owner.id)
    async with maker() as session, session.begin():
        await scope_session(session, org_id=owner.org_id, user_id=owner.id)
        return await service.create_endpoint(session, ctx, settings, url=url, **options)


async def _event(maker, owner, event_type="mission.created", at=LATER) -> list[uuid.UUID]:
    """Emit one event (a plain commit: no task is queued) and make its deliveries due at `at`."""
    async with maker() as session, session.begin():
        await scope_session(session, org_id=owner.org_id)
        message = await outbox.emit(session, owner.org_id, event_type, {"id": uuid.uuid4(), "name": "Artemis Base"})
        assert message is not None
        await session.execute(update(WebhookDelivery).where(WebhookDelivery.message_id == message)
                              .values(next_attempt_at=at))  # fmt: skip
        rows = await session.execute(select(WebhookDelivery.id).where(WebhookDelivery.message_id == message))
        return list(rows.scalars())


async def _row(maker, owner, model, row_id):
    async with maker() as session, session.begin():
        await scope_session(session, org_id=owner.org_id)
        return await session.get(model, row_id)


def _verified(secret: str, request: dict) -> dict:
    return Webhook(secret).verify(request["body"], {k.lower(): v for k, v in request["headers"].items()})


async def test_retries_follow_the_schedule_and_retry_after_then_succeed_signed(factory, maker, settings):
    owner = await factory.org_with_owner()
    with Receiver([(500, {}), (503, {"Retry-After": "600"}), (200, {})]) as receiver:
        made = await _endpoint(maker, settings, owner, receiver.url)
        [delivery_id] = await _event(maker, owner)
        first = await delivery.attempt(maker, settings, owner.org_id, delivery_id, now=LATER)
        assert first.status == "retrying" and first.next_attempt_at == LATER + timedelta(seconds=5)
        early = await delivery.attempt(maker, settings, owner.org_id, delivery_id, now=LATER + timedelta(seconds=4))
        assert early.status == "skipped"  # not due yet: nothing sent
        second = await delivery.attempt(maker, settings, owner.org_id, delivery_id, now=first.next_attempt_at)
        assert second.status == "retrying" and second.response_status == 503
        # the schedule's third wait is 5 minutes; the receiver asked for 10
        assert second.next_attempt_at == first.next_attempt_at + timedelta(seconds=600)
        third = await delivery.attempt(maker, settings, owner.org_id, delivery_id, now=second.next_attempt_at)
        assert third.status == "succeeded"
        requests = receiver.wait_for(3)
    assert len(requests) == 3 and len({r["headers"]["webhook-id"] for r in requests}) == 1  # one message
    for request in requests:
        with pytest.raises(WebhookVerificationError):  # our clock is 40 days ahead: its 5-minute window says so
            _verified(made.secret, request)
    body = json.loads(requests[-1]["body"])
    assert body["type"] == "mission.created" and body["data"]["name"] == "Artemis Base"
    # the signature itself, checked by the library at the moment it was made
    webhook = Webhook(made.secret)
    signed_at = datetime.fromtimestamp(int(requests[-1]["headers"]["webhook-timestamp"]), UTC)
    expected = webhook.sign(requests[-1]["headers"]["webhook-id"], signed_at, requests[-1]["body"].decode())
    assert expected in requests[-1]["headers"]["webhook-signature"].split(" ")
    done = await _row(maker, owner, WebhookDelivery, delivery_id)
    assert done.status == "succeeded" and done.attempts == 3
    endpoint = await _row(maker, owner, WebhookEndpoint, made.endpoint.id)
    assert endpoint.failing_since is None and endpoint.status == "enabled"


async def test_the_signature_verifies_with_the_librarys_verifier_now(factory, maker, settings):
    owner = await factory.org_with_owner()
    with Receiver() as receiver:
        made = await _endpoint(maker, settings, owner, receiver.url)
        [delivery_id] = await _event(maker, owner, at=datetime.now(UTC) + timedelta(days=40))
        outcome = await delivery.attempt(maker, settings, owner.org_id, delivery_id, trigger="replay")
        assert outcome.status == "succeeded"
        [request] = receiver.wait_for(1)
    assert _verified(made.secret, request)["type"] == "mission.created"
    with pytest.raises(WebhookVerificationError):
        _verified("whsec_" + "QUJD" * 8, request)  # another secret
    tampered = dict(request, body=request["body"].replace(b"Artemis", b"Apollo"))
    with pytest.raises(WebhookVerificationError):
        _verified(made.secret, tampered)


async def test_after_a_rotation_both_secrets_sign_for_24_hours(factory, maker, settings):
    owner = await factory.org_with_owner()
    with Receiver() as receiver:
        made = await _endpoint(maker, settings, owner, receiver.url)
        ctx = RequestContext(org_id=owner.org_id, user_id=owner.id)
        async with maker() as session, session.begin():
            await scope_session(session, org_id=owner.org_id, user_id=owner.id)
            rotated = await service.rotate_secret(session, ctx, settings, made.endpoint.id)
        assert rotated.secret != made.secret
        [during] = await _event(maker, owner, at=datetime.now(UTC))
        assert (await delivery.attempt(maker, settings, owner.org_id, during, trigger="replay")).status == "succeeded"
        [after] = await _event(maker, owner, at=datetime.now(UTC) + timedelta(hours=25))
        outcome = await delivery.attempt(maker, settings, owner.org_id, after,
                                         now=datetime.now(UTC) + timedelta(hours=25))  # fmt: skip
        assert outcome.status == "succeeded"
        first, second = receiver.wait_for(2)
    assert len(first["headers"]["webhook-signature"].split(" ")) == 2
    assert _verified(made.secret, first) and _verified(rotated.secret, first)  # a receiver on either secret
    assert len(second["headers"]["webhook-signature"].split(" ")) == 1
    signed_at = datetime.fromtimestamp(int(second["headers"]["webhook-timestamp"]), UTC)
    old = Webhook(made.secret).sign(second["headers"]["webhook-id"], signed_at, second["body"].decode())
    new = Webhook(rotated.secret).sign(second["headers"]["webhook-id"], signed_at, second["body"].decode())
    assert second["headers"]["webhook-signature"] == new != old


async def test_five_days_of_failures_disable_the_endpoint_and_email_its_admins(factory, maker, settings, owner_engine):
    owner = await factory.org_with_owner()
    with Receiver([(500, {})]) as receiver:
        made = await _endpoint(maker, settings, owner, receiver.url)
        [one] = await _event(maker, owner)
        [two] = await _event(maker, owner)
        assert (await delivery.attempt(maker, settings, owner.org_id, one, now=LATER)).status == "retrying"
        endpoint = await _row(maker, owner, WebhookEndpoint, made.endpoint.id)
        assert endpoint.failing_since == LATER and endpoint.status == "enabled"
        almost = LATER + timedelta(days=4, hours=23)
        assert (await delivery.attempt(maker, settings, owner.org_id, one, now=almost)).status == "retrying"
        late = LATER + timedelta(days=5, seconds=1)
        assert (await delivery.attempt(maker, settings, owner.org_id, one, now=late)).status == "failed"
        receiver.wait_for(3)
    endpoint = await _row(maker, owner, WebhookEndpoint, made.endpoint.id)
    assert (endpoint.status, endpoint.disabled_reason) == ("disabled", "failing")
    pending = await _row(maker, owner, WebhookDelivery, two)
    assert pending.status == "failed" and pending.last_error == "The endpoint was disabled."
    async with owner_engine.connect() as conn:
        told = (
            await conn.execute(
                select(OutboxEmail.to_address).where(
                    OutboxEmail.template == "webhook_endpoint_disabled", OutboxEmail.to_address == owner.email
                )
            )
        ).all()
        audited = (
            await conn.execute(
                text("SELECT count(*) FROM audit_logs WHERE action = 'webhook_endpoint.disabled' AND entity_id = :e"),
                {"e": str(made.endpoint.id)},
            )
        ).scalar_one()
    assert len(told) == 1 and audited == 1
    assert (await outbox_count(maker, owner)) == 2  # no new message reaches a disabled endpoint
    async with maker() as session, session.begin():
        await scope_session(session, org_id=owner.org_id)
        assert await outbox.emit(session, owner.org_id, "mission.created", {"id": uuid.uuid4()}) is None


async def outbox_count(maker, owner) -> int:
    async with maker() as session, session.begin():
        await scope_session(session, org_id=owner.org_id)
        return (await session.execute(text("SELECT count(*) FROM webhook_messages"))).scalar_one()


async def test_410_gone_disables_at_once_and_redirects_are_failures(factory, maker, settings):
    owner = await factory.org_with_owner()
    with Receiver([(302, {"Location": "http://127.0.0.1:9/elsewhere"})]) as moved:
        made = await _endpoint(maker, settings, owner, moved.url)
        [delivery_id] = await _event(maker, owner)
        outcome = await delivery.attempt(maker, settings, owner.org_id, delivery_id, now=LATER)
        assert outcome.status == "retrying" and outcome.response_status == 302  # never followed
        assert len(moved.wait_for(1)) == 1
    other = await factory.org_with_owner()
    with Receiver([(410, {})]) as gone:
        made = await _endpoint(maker, settings, other, gone.url)
        [delivery_id] = await _event(maker, other)
        assert (await delivery.attempt(maker, settings, other.org_id, delivery_id, now=LATER)).status == "failed"
    endpoint = await _row(maker, other, WebhookEndpoint, made.endpoint.id)
    assert (endpoint.status, endpoint.disabled_reason) == ("disabled", "gone")


@pytest.mark.parametrize("url", ["http://169.254.169.254/latest/meta-data/", "http://10.0.0.7/hook",
                                 "http://[fd00:ec2::254]/", "http://192.168.1.20:8080/", "http://[::ffff:10.1.2.3]/",
                                 "http://0.0.0.0/", "ftp://example.org/", "http://user:pw@example.org/"])  # fmt: skip
async def test_private_metadata_and_odd_urls_are_refused_at_save(factory, maker, settings, url):
    owner = await factory.org_with_owner()
    with pytest.raises(ValidationError) as refused:
        await _endpoint(maker, settings, owner, url)
    assert "url" in refused.value.details["fields"]


async def test_production_refuses_loopback_at_save_and_at_delivery(factory, maker, settings):
    production = dataclasses.replace(settings, environment="production", webhooks_allow_loopback=True)
    assert delivery.allow_loopback(settings) and not delivery.allow_loopback(production)
    with pytest.raises(egress.EgressRefused, match="loopback"):
        await egress.resolve("https://localhost:8443/hook", allow_loopback=False)  # a name that resolves to 127.0.0.1
    owner = await factory.org_with_owner()
    with pytest.raises(ValidationError):
        await _endpoint(maker, production, owner, "https://localhost:8443/hook")
    with Receiver() as receiver:
        made = await _endpoint(maker, settings, owner, receiver.url.replace("127.0.0.1", "localhost"))  # saved in dev
        [delivery_id] = await _event(maker, owner)
        outcome = await delivery.attempt(maker, production, owner.org_id, delivery_id, now=LATER)
        assert outcome.status == "retrying"
        assert receiver.requests == []  # nothing left the building
    async with maker() as session, session.begin():
        await scope_session(session, org_id=owner.org_id)
        [attempt] = (await session.execute(select(WebhookAttempt).where(
            WebhookAttempt.delivery_id == delivery_id))).scalars().all()  # fmt: skip
    assert attempt.error.startswith("Refused:") and "loopback" in attempt.error and attempt.response_status is None
    assert made.endpoint.url.startswith("http://localhost:")


async def test_the_log_keeps_30_days_and_never_what_is_still_to_send(factory, maker, settings, owner_engine):
    from webapp.integrations import trim

    owner = await factory.org_with_owner()
    with Receiver([(200, {})]) as receiver:
        await _endpoint(maker, settings, owner, receiver.url)
        [sent] = await _event(maker, owner)
        assert (await delivery.attempt(maker, settings, owner.org_id, sent, now=LATER)).status == "succeeded"
        [waiting] = await _event(maker, owner, "mission.updated")  # pending: its next try is in 40 days
        [recent] = await _event(maker, owner, "mission.deleted")
        await delivery.attempt(maker, settings, owner.org_id, recent, now=LATER)
    async with owner_engine.begin() as conn:  # the first two were made 31 days ago, the third 29
        for delivery_id, age in ((sent, 31), (waiting, 31), (recent, 29)):
            await conn.execute(
                text("UPDATE webhook_messages SET created_at = now() - make_interval(days => :d) "
                     "WHERE id = (SELECT message_id FROM webhook_deliveries WHERE id = :i)"),
                {"d": age, "i": delivery_id},
            )  # fmt: skip

    assert await trim.trim_log(maker) >= 1  # other tests' rows are younger: only this one is old enough
    for delivery_id, kept in ((sent, False), (waiting, True), (recent, True)):
        assert (await _row(maker, owner, WebhookDelivery, delivery_id) is not None) == kept
    async with owner_engine.connect() as conn:
        attempts = await conn.execute(text("SELECT count(*) FROM webhook_attempts WHERE delivery_id = :i"), {"i": sent})
        assert attempts.scalar_one() == 0  # the attempts went with their message
    async with maker() as session, session.begin():  # and nobody may trim younger than 30 days
        with pytest.raises(Exception, match="kept at least 30 days"):
            await session.execute(text("SELECT webhooks_trim_log(now() - interval '1 day', 10)"))


async def test_a_receiver_that_trickles_its_answer_is_cut_off_by_the_total_limit():
    """httpx's timeout is per operation: a byte every 0.2 s never trips it. The whole exchange has its own limit."""
    import socket
    import threading
    import time

    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def trickle() -> None:
        connection, _ = listener.accept()
        with connection:
            connection.recv(65536)
            connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 200\r\nContent-Type: text/plain\r\n\r\n")
            for _ in range(200):  # 40 s for the whole body
                if stop.is_set():
                    return
                try:
                    connection.sendall(b".")
                except OSError:  # the sender gave up and closed: what we expect
                    return
                time.sleep(0.2)

    server = threading.Thread(target=trickle, daemon=True)
    server.start()
    try:
        target = await egress.resolve(f"http://127.0.0.1:{listener.getsockname()[1]}/hook", allow_loopback=True)
        answer = await egress.post(target, b"{}", {}, timeout=1)
    finally:
        stop.set()
        listener.close()
    assert answer.status is None and answer.error == "No answer within 1 s."
