"""The organization overview shows the tenant's data, which only appears when the request's RLS scope is set."""

from tests.helpers import login


async def test_home_lists_every_member_of_the_org_and_nobody_else(client, factory):
    owner = await factory.org_with_owner(name="Gateway Station")
    crew = await factory.member(owner)
    stranger = await factory.org_with_owner()
    await login(client, crew.email, crew.password)
    body = await (await client.get(f"/o/{owner.org_slug}/")).get_data(as_text=True)
    assert "Gateway Station" in body
    assert owner.email in body and crew.email in body  # another member's row: visible only under app.org_id
    assert stranger.email not in body


async def test_switcher_lists_only_my_organizations(client, factory):
    mine = await factory.org_with_owner(name="Tranquility Base")
    other = await factory.org_with_owner(name="Hellas Planitia Depot")
    await login(client, mine.email, mine.password)
    body = await (await client.get("/orgs")).get_data(as_text=True)
    assert "Tranquility Base" in body and "Hellas Planitia Depot" not in body
    assert other.org_slug not in body
