"""Comments: threads on every kind of entity, replies and stubs, Markdown through the sanitizer, @mentions (row,
email over SMTP, inbox, badge), edit history and 409 on a stale edit, who may edit and delete, the JSON API, and
404 for another organization's entity or comment."""

from __future__ import annotations

import re
import uuid

from tests.helpers import api_key_headers, login
from tests.missions.test_missions_api import MISSION
from webapp.core.permissions import SystemRole

READ_WRITE = [
    "missions:read",
    "missions:write",
    "crew:write",
    "catalog:read",
    "products:read",
    "products:write",
    "simulations:read",
    "simulations:run",
    "comments:write",
]


async def _mission(api, auth, org_id, **fields) -> dict:
    created = await api.post(f"/api/v1/organizations/{org_id}/missions", headers=auth, json=MISSION | fields)
    assert created.status_code == 201, await created.get_json()
    return await created.get_json()


def _htmx(token: str) -> dict:
    return {"HX-Request": "true", "X-CSRF-Token": token}


async def test_thread_on_a_mission_page_replies_markdown_and_stubs(client, factory, count_rows):
    owner = await factory.org_with_owner()
    crew = await factory.member(owner, SystemRole.CREW_MEMBER, name="Ada Lovelace")
    auth = await api_key_headers(client.app.test_client(), owner, READ_WRITE)
    mission = await _mission(client, auth, owner.org_id)
    token = await login(client, owner.email, owner.password)
    base = f"/o/{owner.org_slug}/comments/missions/{mission['id']}"
    page = f"/o/{owner.org_slug}/missions/{mission['id']}"
    assert "No comments yet" in await (await client.get(page)).get_data(as_text=True)

    # without JavaScript: a form post, then back to the comment on the page
    posted = await client.post(
        base,
        form={
            "csrf_token": token,
            "content": "**Bricks** first <script>alert(1)</script> [x](javascript:alert(2)) [ok](https://nasa.gov)",
        },
    )
    assert posted.status_code == 303 and re.search(r"#comment-[0-9a-f-]{36}$", posted.headers["Location"])
    first_id = posted.headers["Location"].rsplit("#comment-", 1)[1]
    html = await (await client.get(page)).get_data(as_text=True)
    assert "<strong>Bricks</strong>" in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>alert(1)" not in html and 'href="javascript:' not in html
    assert 'href="https://nasa.gov" target="_blank" rel="noopener noreferrer nofollow"' in html

    # with htmx: the reply comes back as the comment's own fragment, nested under its parent
    reply = await client.post(base, headers=_htmx(token), form={"content": "Agreed.", "parent_comment_id": first_id})
    fragment = await reply.get_data(as_text=True)
    assert reply.status_code == 200 and "<html" not in fragment and "Agreed." in fragment
    assert "Reply posted." in reply.headers["HX-Trigger"]
    html = await (await client.get(page)).get_data(as_text=True)
    replies = html.split(f'id="replies-{first_id}"', 1)[1]
    assert "Agreed." in replies.split("</article>")[0]

    # empty text changes nothing and says why, in the form
    empty = await client.post(base, headers=_htmx(token), form={"content": "   "})
    assert empty.status_code == 422 and "Write something first." in await empty.get_data(as_text=True)
    assert empty.headers["HX-Retarget"] == f"#form-new-comment-{mission['id']}"
    # a parent from another thread is refused
    other = await _mission(client, auth, owner.org_id, name="Other mission")
    stray = await client.post(
        f"/o/{owner.org_slug}/comments/missions/{other['id']}",
        headers=_htmx(token),
        form={"content": "Hi", "parent_comment_id": first_id},
    )
    assert stray.status_code == 422
    assert await count_rows("comments", "organization_id = :o", o=owner.org_id) == 2

    # deleting the parent leaves a stub while its reply stands; the reply alone then disappears entirely
    deleted = await client.post(f"/o/{owner.org_slug}/comments/{first_id}/delete", headers=_htmx(token))
    assert deleted.status_code == 200 and "Comment deleted" in await deleted.get_data(as_text=True)
    html = await (await client.get(page)).get_data(as_text=True)
    assert "Comment deleted" in html and "Bricks" not in html and "Agreed." in html

    # a crew member may reply but not delete someone else's comment
    crew_client = client.app.test_client()
    crew_token = await login(crew_client, crew.email, crew.password)
    listed = await (await client.get(f"/api/v1/missions/{mission['id']}/comments", headers=auth)).get_json()
    agreed_id = next(c["id"] for c in listed["items"] if c["content"] == "Agreed.")
    thread = await (await crew_client.get(page)).get_data(as_text=True)
    assert f'id="comment-{agreed_id}"' in thread and "Delete this comment" not in thread
    refused = await crew_client.post(f"/o/{owner.org_slug}/comments/{agreed_id}/delete", headers=_htmx(crew_token))
    assert refused.status_code == 403
    gone = await client.post(f"/o/{owner.org_slug}/comments/{agreed_id}/delete", headers=_htmx(token))
    assert gone.status_code == 200 and "hidden" in await gone.get_data(as_text=True)
    html = await (await client.get(page)).get_data(as_text=True)
    assert "Comment deleted" not in html and "No comments yet" in html


async def test_mentions_email_inbox_and_badge(client, factory, deliver, mailbox, count_rows):
    owner = await factory.org_with_owner()
    ada = await factory.member(owner, SystemRole.CREW_MEMBER, name="Ada Lovelace")
    muted = await factory.member(owner, SystemRole.ANALYST, name="Quiet Person")
    outsider = await factory.org_with_owner()
    auth = await api_key_headers(client.app.test_client(), owner, READ_WRITE)
    mission = await _mission(client, auth, owner.org_id, name="Jezero Base")
    # the analyst turned mention emails off; an outsider's handle names nobody here
    muted_client = client.app.test_client()
    muted_token = await login(muted_client, muted.email, muted.password)
    saved = await muted_client.post(
        "/me/preferences/email",
        form={"csrf_token": muted_token, "approval_requests": "on", "invitation_accepted": "on"},
    )
    assert saved.status_code == 303
    ada_handle = ada.email.split("@")[0]
    text = f"@{ada_handle} and @quietperson, please check the dryer. @{outsider.email.split('@')[0]} `@{ada_handle}`"
    created = await client.post(f"/api/v1/missions/{mission['id']}/comments", headers=auth, json={"content": text})
    assert created.status_code == 201, await created.get_json()
    comment = await created.get_json()
    assert comment["content_html"].count('class="mention"') == 2 and "@Ada Lovelace" in comment["content_html"]
    assert f"<code>@{ada_handle}</code>" in comment["content_html"]
    assert await count_rows("comment_mentions", "comment_id = :c", c=comment["id"]) == 2

    await deliver()
    message = await mailbox.wait_for(ada.email, "mentioned you on Mission Jezero Base")
    assert f"/o/{owner.org_slug}/missions/{mission['id']}#comment-{comment['id']}" in message.text
    assert mailbox.to(muted.email) == [] and mailbox.to(outsider.email) == []

    ada_client = client.app.test_client()
    await login(ada_client, ada.email, ada.password)
    home = await (await ada_client.get(f"/o/{owner.org_slug}/")).get_data(as_text=True)
    assert "1 unread" in home and "Jezero Base" in home  # the badge and the overview's recent discussion
    inbox = await (await ada_client.get(f"/o/{owner.org_slug}/mentions")).get_data(as_text=True)
    assert "please check the dryer" in inbox and ">new<" in inbox
    await ada_client.get(f"/o/{owner.org_slug}/missions/{mission['id']}")  # reading the thread marks it read
    home = await (await ada_client.get(f"/o/{owner.org_slug}/")).get_data(as_text=True)
    assert "unread" not in home

    # an edit that adds a mention notifies only the newly named
    patched = await client.patch(
        f"/api/v1/comments/{comment['id']}",
        headers=auth,
        json={"content": text + f" Also @{owner.email.split('@')[0]}", "version": comment["version"]},
    )
    assert patched.status_code == 200
    assert await count_rows("comment_mentions", "comment_id = :c", c=comment["id"]) == 2  # the author is not notified


async def test_edit_history_conflict_and_only_the_author_edits(client, factory, count_rows):
    owner = await factory.org_with_owner()
    crew = await factory.member(owner, SystemRole.MISSION_COMMANDER, name="Cmdr Rivera")
    auth = await api_key_headers(client.app.test_client(), owner, READ_WRITE)
    crew_auth = await api_key_headers(client.app.test_client(), crew, [*READ_WRITE, "comments:moderate"])
    mission = await _mission(client, auth, owner.org_id)
    created = await (
        await client.post(f"/api/v1/missions/{mission['id']}/comments", headers=auth, json={"content": "First take"})
    ).get_json()
    url = f"/api/v1/comments/{created['id']}"

    edited = await client.patch(url, headers=auth, json={"content": "Second take", "version": created["version"]})
    body = await edited.get_json()
    assert edited.status_code == 200 and body["content"] == "Second take" and body["edited_at"]
    stale = await client.patch(url, headers=auth, json={"content": "Third take", "version": created["version"]})
    assert stale.status_code == 409
    assert (await stale.get_json())["details"]["current"] == {"content": "Second take", "version": body["version"]}
    assert await count_rows("comment_revisions", "comment_id = :c", c=created["id"]) == 1

    # someone else may not edit it; a commander moderates, so may delete it
    assert (await client.patch(url, headers=crew_auth, json={"content": "Mine now"})).status_code == 403
    token = await login(client, owner.email, owner.password)
    page = await (await client.get(f"/o/{owner.org_slug}/missions/{mission['id']}")).get_data(as_text=True)
    assert "(edited" in page
    history = await (await client.get(f"/o/{owner.org_slug}/comments/{created['id']}/history")).get_data(as_text=True)
    assert "First take" in history and "Second take" in history

    # the HTML edit answers a stale save with the saved text and keeps the typed one
    conflict = await client.post(
        f"/o/{owner.org_slug}/comments/{created['id']}",
        headers=_htmx(token),
        form={"content": "My stale words", "version": str(created["version"])},
    )
    text = await conflict.get_data(as_text=True)
    assert conflict.status_code == 409 and "Second take" in text and "My stale words" in text

    stale_delete = await client.delete(f"{url}?version={created['version']}", headers=crew_auth)
    assert stale_delete.status_code == 409
    assert (await client.delete(url, headers=crew_auth)).status_code == 204
    assert (await client.get(url, headers=auth)).status_code == 200  # a stub stays readable
    assert (await (await client.get(url, headers=auth)).get_json())["deleted"] is True
    assert (await client.patch(url, headers=auth, json={"content": "Back"})).status_code == 404


async def test_json_thread_validation_and_other_organizations(app, client, factory, count_rows):
    owner = await factory.org_with_owner()
    auth = await api_key_headers(client.app.test_client(), owner, READ_WRITE)
    mission = await _mission(client, auth, owner.org_id)
    thread = f"/api/v1/missions/{mission['id']}/comments"
    root = await (await client.post(thread, headers=auth, json={"content": "Root"})).get_json()
    child = await client.post(thread, headers=auth, json={"content": "Child", "parent_comment_id": root["id"]})
    assert child.status_code == 201 and child.headers["Location"].startswith("/api/v1/comments/")
    listed = await (await client.get(thread, headers=auth)).get_json()
    assert [(c["content"], c["parent_comment_id"]) for c in listed["items"]] == [
        ("Root", None),
        ("Child", root["id"]),
    ]
    for bad in (
        {"content": ""},
        {"content": 5},
        {"content": "x" * 10_001},
        {"content": "hi", "extra": 1},
        {"content": "hi", "parent_comment_id": "nope"},
        {"content": "hi", "parent_comment_id": str(uuid.uuid4())},
    ):
        answer = await client.post(thread, headers=auth, json=bad)
        assert answer.status_code == 422, bad
    assert (await client.get(f"/api/v1/asteroids/{mission['id']}/comments", headers=auth)).status_code == 404
    assert (await client.get(f"/api/v1/missions/{uuid.uuid4()}/comments", headers=auth)).status_code == 404

    # another organization sees neither the mission's thread nor the comment, and cannot post into it
    other = await factory.org_with_owner()
    their_client = app.test_client()
    their = await api_key_headers(app.test_client(), other, READ_WRITE)
    assert (await their_client.get(thread, headers=their)).status_code == 404
    assert (await their_client.post(thread, headers=their, json={"content": "Hi"})).status_code == 404
    assert (await their_client.get(f"/api/v1/comments/{root['id']}", headers=their)).status_code == 404
    assert (
        await their_client.patch(f"/api/v1/comments/{root['id']}", headers=their, json={"content": "x"})
    ).status_code == 404
    assert (await their_client.delete(f"/api/v1/comments/{root['id']}", headers=their)).status_code == 404
    their_token = await login(their_client, other.email, other.password)
    page_post = await their_client.post(
        f"/o/{other.org_slug}/comments/missions/{mission['id']}", form={"csrf_token": their_token, "content": "x"}
    )
    assert page_post.status_code == 404
    assert await count_rows("comments", "organization_id = :o", o=other.org_id) == 0

    # a key without comments:write reads but does not write; one without missions:read does not see the thread
    reader = await api_key_headers(client.app.test_client(), owner, ["missions:read"])
    assert (await client.get(thread, headers=reader)).status_code == 200
    assert (await client.post(thread, headers=reader, json={"content": "x"})).status_code == 403
    blind = await api_key_headers(client.app.test_client(), owner, ["catalog:read", "comments:write"])
    assert (await client.get(thread, headers=blind)).status_code == 404


async def test_every_kind_of_entity_has_a_thread(client, factory):
    owner = await factory.org_with_owner()
    crew = await factory.member(owner, SystemRole.CREW_MEMBER, name="Ada Lovelace")
    auth = await api_key_headers(client.app.test_client(), owner, READ_WRITE)
    mission = await _mission(client, auth, owner.org_id)
    assigned = await client.post(
        f"/api/v1/missions/{mission['id']}/crew",
        headers=auth,
        json={"user_id": str(crew.id), "role": "flight_engineer"},
    )
    assert assigned.status_code == 201, await assigned.get_json()
    product = await (
        await client.post(
            "/api/v1/products",
            headers=auth,
            json={"mission_id": mission["id"], "product_type": "brick", "quantity_kg": 4},
        )
    ).get_json()
    run = await client.post(
        f"/api/v1/missions/{mission['id']}/simulations",
        headers=auth,
        json={"name": "Brick plan", "run_type": "mass_balance", "config": {"time_horizon_days": 5}},
    )
    assert run.status_code == 201, await run.get_json()
    items = {}
    for path, kind in (
        ("waste-materials", "waste-materials"),
        ("modules", "processing-modules"),
        ("recipes", "processing-recipes"),
    ):
        listed = await (
            await client.get(f"/api/v1/organizations/{owner.org_id}/{path}?limit=1", headers=auth)
        ).get_json()
        items[kind] = listed["items"][0]["id"]
    targets = {
        "missions": mission["id"],
        "crew-assignments": (await assigned.get_json())["id"],
        "products": product["id"],
        "simulation-runs": (await run.get_json())["id"],
        **items,
    }
    token = await login(client, owner.email, owner.password)
    for kind, entity_id in targets.items():
        words = f"Note on {kind}"
        created = await client.post(f"/api/v1/{kind}/{entity_id}/comments", headers=auth, json={"content": words})
        assert created.status_code == 201, (kind, await created.get_json())
        page = await client.get(f"/o/{owner.org_slug}/comments/{kind}/{entity_id}")
        assert page.status_code == 303, kind
        html = await (await client.get(page.headers["Location"].split("#")[0])).get_data(as_text=True)
        assert words in html and 'id="discussion"' in html, kind
    assert token
    overview = await (await client.get(f"/o/{owner.org_slug}/")).get_data(as_text=True)
    assert "Recent discussion" in overview and "Note on products" in overview
