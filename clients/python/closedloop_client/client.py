"""A small typed client over httpx for the ClosedLoop JSON API (/api/v1). Every call it makes is one of OPERATIONS,
which the server's tests check against the live OpenAPI document."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, cast

import httpx

from closedloop_client.types import (
    FINAL_STATUSES,
    Items,
    LogLine,
    Mission,
    Organization,
    Page,
    Product,
    Run,
    RunState,
    RunType,
    Tokens,
)


@dataclass(frozen=True)
class Operation:
    """One documented route: its method, its path template, and the type of its successful answer."""

    method: str
    path: str
    returns: Any = None
    status: int = 200


OPERATIONS: dict[str, Operation] = {
    "login": Operation("POST", "/api/v1/auth/login", Tokens, 201),
    "refresh": Operation("POST", "/api/v1/auth/refresh", Tokens),
    "logout": Operation("POST", "/api/v1/auth/logout", None, 204),
    "list_organizations": Operation("GET", "/api/v1/organizations", Items[Organization]),
    "list_missions": Operation("GET", "/api/v1/organizations/{org_id}/missions", Page[Mission]),
    "create_mission": Operation("POST", "/api/v1/organizations/{org_id}/missions", Mission, 201),
    "get_mission": Operation("GET", "/api/v1/missions/{mission_id}", Mission),
    "list_runs": Operation("GET", "/api/v1/missions/{mission_id}/simulations", Page[Run]),
    "start_run": Operation("POST", "/api/v1/missions/{mission_id}/simulations", Run, 201),
    "get_run": Operation("GET", "/api/v1/simulation-runs/{run_id}", Run),
    "cancel_run": Operation("PATCH", "/api/v1/simulation-runs/{run_id}/cancel", Run),
    "rerun": Operation("POST", "/api/v1/simulation-runs/{run_id}/rerun", Run, 201),
    "run_logs": Operation("GET", "/api/v1/simulation-runs/{run_id}/logs", Items[LogLine]),
    "follow_run": Operation("GET", "/api/v1/simulations/{run_id}/subscribe", RunState),
    "list_products": Operation("GET", "/api/v1/organizations/{org_id}/products", Page[Product]),
    "list_mission_products": Operation("GET", "/api/v1/missions/{mission_id}/products", Page[Product]),
}

RETRIED_STATUSES = {429, 502, 503, 504}


class ApiError(Exception):
    """An error answer: its status and the API's error body (`error`, `message`, `details`)."""

    def __init__(self, status: int, error: str, message: str, details: dict | None = None, retry_after: float = 0):
        super().__init__(f"{status} {error}: {message}")
        self.status, self.error, self.message = status, error, message
        self.details = details or {}
        self.retry_after = retry_after

    @classmethod
    def from_response(cls, response: httpx.Response) -> ApiError:
        """The error a response carries (its body when it is the API's, else the status line)."""
        try:
            body = response.json()
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        retry = response.headers.get("Retry-After", "0")
        return cls(
            response.status_code,
            str(body.get("error") or response.reason_phrase),
            str(body.get("message") or response.text[:200]),
            body.get("details") if isinstance(body.get("details"), dict) else {},
            float(retry) if retry.isdigit() else 0,
        )


class Client:
    """The ClosedLoop API with one credential: an API key (`cl_live_…`) or the tokens of a login, which it refreshes
    when the access token expires (`on_tokens` hears of each new pair, to store them)."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        tokens: Tokens | None = None,
        on_tokens: Callable[[Tokens], None] | None = None,
        timeout: float = 30,
        max_retries: int = 3,
        transport: httpx.BaseTransport | None = None,
    ):
        self.base_url = base_url.rstrip("/")
        self.api_key, self.tokens, self.on_tokens = api_key, tokens, on_tokens
        self.max_retries = max_retries
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout, transport=transport)

    # -- credentials

    @classmethod
    def login(
        cls, base_url: str, email: str, password: str, organization: str, totp: str | None = None, **options: Any
    ) -> Client:
        """Sign in to one organization (slug or id) with email and password (and a current code with two-factor)."""
        client = cls(base_url, **options)
        body = {"email": email, "password": password, "organization": organization}
        if totp:
            body["totp"] = totp
        client._set_tokens(client._call("login", json=body, authenticate=False))
        return client

    def logout(self) -> None:
        """End this login (every token of it); an API key is deleted on the API keys page instead."""
        if self.tokens:
            self._call("logout")
            self.tokens = None

    def _set_tokens(self, tokens: Tokens) -> None:
        self.tokens = tokens
        if self.on_tokens:
            self.on_tokens(tokens)

    def _refresh(self) -> bool:
        if not self.tokens:
            return False
        body = {"refresh_token": self.tokens["refresh_token"]}
        self._set_tokens(self._call("refresh", json=body, authenticate=False))
        return True

    def _headers(self) -> dict[str, str]:
        secret = self.api_key or (self.tokens and self.tokens["access_token"])
        return {"Authorization": f"Bearer {secret}"} if secret else {}

    # -- the calls

    def _call(self, name: str, *, params: dict | None = None, json: Any = None, authenticate: bool = True, **path):
        """Make one documented call: retried after 429 and 502–504 (POSTs with one Idempotency-Key, so a retry
        runs once), refreshed once after an expired access token; an error answer raises ApiError."""
        op = OPERATIONS[name]
        url = op.path.format(**{k: str(v) for k, v in path.items()})
        headers = {"Accept": "application/json"}
        if op.method == "POST" and authenticate:
            headers["Idempotency-Key"] = str(uuid.uuid4())
        query = {k: v for k, v in (params or {}).items() if v is not None}
        refreshed = False
        for attempt in range(self.max_retries + 1):
            auth = self._headers() if authenticate else {}
            response = self._http.request(op.method, url, params=query, json=json, headers=headers | auth)
            if response.status_code == 401 and authenticate and not refreshed and not self.api_key:
                refreshed = self._refresh()
                if refreshed:
                    continue
            if response.status_code in RETRIED_STATUSES and attempt < self.max_retries:
                time.sleep(min(float(ApiError.from_response(response).retry_after or 2**attempt), 60))
                continue
            break
        if response.is_error:
            raise ApiError.from_response(response)
        return None if response.status_code == 204 else response.json()

    def _pages(self, name: str, params: dict | None = None, **path) -> Iterator[Any]:
        """Every item of a cursor-paged list, page after page."""
        params = dict(params or {})
        while True:
            page = self._call(name, params=params, **path)
            yield from page["items"]
            if not page["next_cursor"]:
                return
            params["cursor"] = page["next_cursor"]

    def organization(self) -> Organization:
        """The organization this credential acts in (a key or a login is bound to one)."""
        return cast(Organization, self._call("list_organizations")["items"][0])

    def missions(self, org: str, *, status: str | None = None, q: str | None = None,
                 sort: str | None = None) -> Iterator[Mission]:  # fmt: skip
        """The organization's missions (slug or id), every page."""
        return self._pages("list_missions", {"status": status, "q": q, "sort": sort, "limit": 100}, org_id=org)

    def create_mission(self, org: str, mission: dict[str, Any]) -> Mission:
        """A new mission from the fields of MissionIn (name, destination, crew_size, …)."""
        return cast(Mission, self._call("create_mission", json=mission, org_id=org))

    def mission(self, mission_id: str) -> Mission:
        """One mission."""
        return cast(Mission, self._call("get_mission", mission_id=mission_id))

    def runs(self, mission_id: str) -> Iterator[Run]:
        """A mission's simulation runs, newest first (without results)."""
        return self._pages("list_runs", {"limit": 100}, mission_id=mission_id)

    def start_run(self, mission_id: str, run_type: RunType, config: dict[str, Any] | None = None,
                  name: str | None = None) -> Run:  # fmt: skip
        """Queue a simulation run; a worker takes it (follow_run or wait_for_run to see it through)."""
        body: dict[str, Any] = {"run_type": run_type, "config": config or {}}
        if name:
            body["name"] = name
        return cast(Run, self._call("start_run", json=body, mission_id=mission_id))

    def run(self, run_id: str) -> Run:
        """One run with its results and frozen inputs."""
        return cast(Run, self._call("get_run", run_id=run_id))

    def cancel_run(self, run_id: str) -> Run:
        """Ask a run to stop: a queued one ends at once, a running one within a second."""
        return cast(Run, self._call("cancel_run", run_id=run_id))

    def rerun(self, run_id: str) -> Run:
        """A new run with the same inputs, config and seed."""
        return cast(Run, self._call("rerun", run_id=run_id))

    def run_logs(self, run_id: str) -> Iterator[LogLine]:
        """The run's log lines in order, read 100 at a time (`after` the last one seen)."""
        after = None
        while True:
            lines = self._call("run_logs", params={"after": after, "limit": 100}, run_id=run_id)["items"]
            yield from lines
            if len(lines) < 100:
                return
            after = lines[-1]["id"]

    def products(self, org: str, *, mission_id: str | None = None, kind: str | None = None,
                 product_type: str | None = None) -> Iterator[Product]:  # fmt: skip
        """The organization's products (recorded by the crew or planned by runs), every page."""
        params = {"mission_id": mission_id, "kind": kind, "product_type": product_type, "limit": 100}
        return self._pages("list_products", params, org_id=org)

    def mission_products(self, mission_id: str, *, kind: str | None = None) -> Iterator[Product]:
        """One mission's products, every page."""
        return self._pages("list_mission_products", {"kind": kind, "limit": 100}, mission_id=mission_id)

    # -- live progress

    def follow_run(self, run_id: str, *, reconnects: int = 5) -> Iterator[RunState]:
        """The run's state as it changes, over server-sent events: the current state first, then each change,
        ending after the final one. A dropped stream (the server says `retry:`) is reopened."""
        op = OPERATIONS["follow_run"]
        url = op.path.format(run_id=run_id)
        for _ in range(reconnects + 1):
            headers = self._headers() | {"Accept": "text/event-stream"}
            with self._http.stream("GET", url, headers=headers, timeout=httpx.Timeout(30, read=None)) as response:
                if response.status_code == 401 and self._refresh():
                    continue
                if response.is_error:
                    response.read()
                    raise ApiError.from_response(response)
                for event, data in _events(response.iter_lines()):
                    if event == "state":
                        state = cast(RunState, json.loads(data))
                        yield state
                        if state["finished"]:
                            return
                    elif event == "done":
                        return
        raise ApiError(503, "StreamLost", f"the progress stream of run {run_id} kept dropping")

    def wait_for_run(self, run_id: str, on_state: Callable[[RunState], None] | None = None) -> Run:
        """Follow the run to its end (calling `on_state` with each change), then read it with its results."""
        for state in self.follow_run(run_id):
            if on_state:
                on_state(state)
        run = self.run(run_id)
        while run["status"] not in FINAL_STATUSES:  # the stream ended early: the run row has the last word
            time.sleep(0.5)
            run = self.run(run_id)
        return run

    def close(self) -> None:
        """Close the connections."""
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _events(lines: Iterator[str]) -> Iterator[tuple[str, str]]:
    """(event, data) pairs of a text/event-stream (comments and ids skipped)."""
    event, data = "message", []
    for line in lines:
        if not line:
            if data:
                yield event, "\n".join(data)
            event, data = "message", []
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
