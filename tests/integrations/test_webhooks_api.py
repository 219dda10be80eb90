"""Webhook endpoints over the API with live workers: a mission created through the API reaches the receiver signed
(verified by the `standardwebhooks` library), a failed first attempt is retried after 5 s, the delivery log shows
every attempt, a test event and a replay go through the same path, recovery resends failures; a delivery the minute
sweep attempts first gets its 5 s retry from the sweep too; only members who may manage webhooks see endpoints, and
never another organization's."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select, update
from standardwebhooks import Webhook

from tests.helpers import api_key_headers
from tests.integrations.receiver import Receiver
from webapp.core.permissions import SystemRole
from webapp.core.tenancy import scope_session
from webapp.integrations import outbox
from webapp.integrations.models import WebhookDelivery

pytestmark = pytest.mark.live


def _wait(http, url, headers, done, timeout=60):
    deadline = time.monotonic() + timeout
    while True:
        answer = http.get(url, headers=headers)
        assert answer.status_code == 200, answer.text
        if done(answer.json()) or time.monotonic() > deadline:
            return answer.json()
        time.sleep(0.3)


def _attempts(receiver, count, http, log_url, headers, timeout=60):
    """The receiver's first `count` requests; when they do not come, the delivery log says why."""
    try:
        return receiver.wait_for(count, timeout)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\ndelivery log: {http.get(log_url, headers=headers).text}") from None


async def test_events_reach_the_receiver_signed_retried_logged_replayed(live_stack, app, factory):
    owner = await factory.org_with_owner()
    auth = await api_key_headers(app.test_client(), owner, ["webhooks:manage", "missions:write", "missions:read"])
    base = f"{live_stack}/api/v1/organizations/{owner.org_id}/webhook-endpoints"
    with Receiver([(500, {}), (200, {})]) as receiver, httpx.Client(timeout=30) as http:
        made = http.post(base, headers=auth, json={"url": receiver.url, "description": "Ops bridge",
                                                   "event_types": ["mission.created", "mission.deleted"]})  # fmt: skip
        assert made.status_code == 201, made.text
        endpoint = made.json()
        assert (
            endpoint["secret"].startswith("whsec_") and endpoint["secrets"][0]["hint"] == endpoint["secret"][:10] + "…"
        )
        assert made.headers["Location"].endswith(f"/webhook-endpoints/{endpoint['id']}")
        assert "secret" not in http.get(live_stack + made.headers["Location"], headers=auth).json()

        mission = http.post(f"{live_stack}/api/v1/organizations/{owner.org_id}/missions", headers=auth,
                            json={"name": "Hooked Base", "destination": "mars", "crew_size": 4})  # fmt: skip
        assert mission.status_code == 201
        log_url = f"{base}/{endpoint['id']}/deliveries"
        first, second = _attempts(receiver, 2, http, log_url, auth)  # 500, then the schedule's 5 s later a 200
        assert first["headers"]["webhook-id"] == second["headers"]["webhook-id"]
        event = Webhook(endpoint["secret"]).verify(second["body"], second["headers"])
        assert event["type"] == "mission.created" and event["data"]["id"] == mission.json()["id"]
        assert event["data"]["name"] == "Hooked Base"
        gap = int(second["headers"]["webhook-timestamp"]) - int(first["headers"]["webhook-timestamp"])
        assert 4 <= gap <= 15

        log = _wait(http, log_url, auth, lambda page: page["items"] and page["items"][0]["status"] == "succeeded")
        [delivered] = log["items"]
        assert delivered["attempts"] == 2 and delivered["event_type"] == "mission.created"
        detail = http.get(f"{log_url}/{delivered['id']}", headers=auth).json()
        assert [(a["attempt"], a["response_status"], a["succeeded"]) for a in detail["attempt_log"]] == [
            (1, 500, False), (2, 200, True)]  # fmt: skip
        assert detail["attempt_log"][0]["response_excerpt"] == "receiver says no"
        assert detail["payload"]["data"]["name"] == "Hooked Base"

        # a type the endpoint did not ask for is not sent
        http.patch(f"{live_stack}/api/v1/missions/{mission.json()['id']}", headers=auth, json={"crew_size": 5})
        test = http.post(f"{base}/{endpoint['id']}/test", headers=auth)
        assert test.status_code == 202
        third = receiver.wait_for(3)[2]
        assert Webhook(endpoint["secret"]).verify(third["body"], third["headers"])["type"] == "webhook.test"

        replay = http.post(f"{log_url}/{delivered['id']}/replay", headers=auth)
        assert replay.status_code == 202 and replay.json()["message_id"] == first["headers"]["webhook-id"]
        fourth = receiver.wait_for(4)[3]
        assert fourth["headers"]["webhook-id"] == first["headers"]["webhook-id"]  # the same message, again
        time.sleep(1)
        assert len(receiver.requests) == 4  # the mission.updated event went nowhere

        since = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
        recovered = http.post(f"{base}/{endpoint['id']}/recover", headers=auth, json={"since": since})
        assert recovered.status_code == 202 and recovered.json()["messages"] == 0  # nothing failed
        too_far = http.post(f"{base}/{endpoint['id']}/recover", headers=auth,
                            json={"since": (datetime.now(UTC) - timedelta(days=15)).isoformat()})  # fmt: skip
        assert too_far.status_code == 422

        refused = http.post(base, headers=auth, json={"url": "http://169.254.169.254/latest/meta-data/"})
        assert refused.status_code == 422 and "link-local" in refused.json()["details"]["fields"]["url"][0]
        unknown = http.post(base, headers=auth, json={"url": receiver.url, "event_types": ["mission.exploded"]})
        assert unknown.status_code == 422


async def test_a_delivery_the_minute_sweep_attempts_first_is_retried_5_s_later(live_stack, app, factory, maker):
    owner = await factory.org_with_owner()
    auth = await api_key_headers(app.test_client(), owner, ["webhooks:manage"])
    base = f"{live_stack}/api/v1/organizations/{owner.org_id}/webhook-endpoints"
    with Receiver([(503, {}), (200, {})]) as receiver, httpx.Client(timeout=30) as http:
        endpoint = http.post(base, headers=auth, json={"url": receiver.url, "event_types": ["mission.created"]}).json()
        async with maker() as session, session.begin():  # emitted and due, with no task queued: only the sweep sends
            await scope_session(session, org_id=owner.org_id)
            message = await outbox.emit(session, owner.org_id, "mission.created", {"name": "Swept Base"})
            await session.execute(update(WebhookDelivery).where(WebhookDelivery.message_id == message)
                                  .values(next_attempt_at=datetime.now(UTC)))  # fmt: skip
            [delivery_id] = (await session.execute(
                select(WebhookDelivery.id).where(WebhookDelivery.message_id == message))).scalars()  # fmt: skip
        log_url = f"{base}/{endpoint['id']}/deliveries"
        first, second = _attempts(receiver, 2, http, log_url, auth, timeout=90)  # the sweep runs each minute
        gap = int(second["headers"]["webhook-timestamp"]) - int(first["headers"]["webhook-timestamp"])
        assert 4 <= gap <= 15  # the schedule's 5 s, not the next minute's sweep
        assert Webhook(endpoint["secret"]).verify(second["body"], second["headers"])["data"]["name"] == "Swept Base"
        done = _wait(http, f"{log_url}/{delivery_id}", auth, lambda d: d["status"] == "succeeded")
        assert done["attempts"] == 2 and [a["response_status"] for a in done["attempt_log"]] == [503, 200]


async def test_only_webhook_managers_of_the_organization_see_endpoints(live_stack, app, factory):
    owner = await factory.org_with_owner()
    auth = await api_key_headers(app.test_client(), owner, ["webhooks:manage"])
    crew = await factory.member(owner, role=SystemRole.CREW_MEMBER)
    crew_auth = await api_key_headers(app.test_client(), crew, ["missions:read"])
    stranger = await factory.org_with_owner()
    stranger_auth = await api_key_headers(app.test_client(), stranger, ["webhooks:manage"])
    base = f"{live_stack}/api/v1/organizations/{owner.org_id}/webhook-endpoints"
    with httpx.Client(timeout=30) as http:
        made = http.post(base, headers=auth, json={"url": "http://127.0.0.1:9/nothing-listens"}).json()
        assert http.get(base, headers=crew_auth).status_code == 403
        assert http.get(base, headers=stranger_auth).status_code in (403, 404)
        theirs = f"{live_stack}/api/v1/organizations/{stranger.org_id}/webhook-endpoints/{made['id']}"
        assert http.get(theirs, headers=stranger_auth).status_code == 404  # RLS: another organization's id
        assert http.get(f"{base}/{made['id']}", headers=auth).status_code == 200
        stale = http.patch(f"{base}/{made['id']}", headers=auth, json={"enabled": False, "version": 99})
        assert stale.status_code == 409
        off = http.patch(f"{base}/{made['id']}", headers=auth, json={"enabled": False, "version": made["version"]})
        assert off.json()["status"] == "disabled" and off.json()["disabled_reason"] == "manual"
        assert http.post(f"{base}/{made['id']}/test", headers=auth).status_code == 409
        rotated = http.post(f"{base}/{made['id']}/rotate-secret", headers=auth).json()
        assert rotated["secret"] != made["secret"] and len(rotated["secrets"]) == 2
        assert sum(1 for s in rotated["secrets"] if s["expires_at"]) == 1
        assert http.delete(f"{base}/{made['id']}", headers=auth).status_code == 204
        assert http.get(f"{base}/{made['id']}", headers=auth).status_code == 404
        types = http.get(f"{live_stack}/api/v1/webhook-event-types", headers=auth).json()["items"]
        assert {"mission.created", "simulation_run.completed", "invoice.paid"} <= {t["type"] for t in types}
