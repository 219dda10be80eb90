"""Schemathesis extensions for our run (loaded through SCHEMATHESIS_HOOKS by tests/api/test_schemathesis.py).

One check replaces the stock `positive_data_acceptance`: a body the document allows may still break a rule JSON
Schema cannot say (landing before launch, a recipe whose mass does not balance, a referenced mission that does not
exist) and is then refused with a 400/422 that carries no `source`. What must never happen is the server refusing
a schema-valid request *as not matching its schema* (`details.source == "schema"`): that is the document being
looser than the API, the contract broken. Every other stock check runs as shipped.
"""

from __future__ import annotations

import json
import os

import schemathesis

# ids the run must leave alone (its own credential and session): deleting them ends the run's access midway
PROTECTED = {value for value in os.environ.get("CL_PROTECTED_IDS", "").split(",") if value}
# refusals by a rule about state, not the request: credentials, existence, conflicts, a plan's limit (402), rate
ACCEPTED = {401, 402, 403, 404, 409, 429}


@schemathesis.check
def schema_valid_requests_pass_the_schema(ctx, response, case):
    """A request generated from the document is never refused as not matching it; other refusals are rules."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or response.status_code < 400:
        return None
    if response.status_code in ACCEPTED:
        return None
    try:
        body = json.loads(response.content or b"{}")
    except ValueError:
        body = {}
    details = body.get("details") if isinstance(body, dict) else None
    if response.status_code in (400, 422) and isinstance(details, dict) and details.get("source") != "schema":
        return None  # a rule the schema cannot express; the message names it
    if not _body_fits(case):
        return None  # stateful steps may carry fields from earlier answers: not a request the document allows
    raise AssertionError(
        f"A request the document allows was refused with {response.status_code} as not matching the schema: "
        f"{response.text[:500]}"
    )


@schemathesis.hook
def filter_path_parameters(ctx, path_parameters):
    """Keep the run's own API key and session alive: no request names them."""
    return not (path_parameters and PROTECTED & {str(v) for v in path_parameters.values()})


def _body_fits(case) -> bool:
    """Whether the case's JSON body validates against the operation's documented request schema."""
    from schemathesis.core import NOT_SET
    from schemathesis.core.jsonschema import make_validator

    if case.body is NOT_SET or case.body is None:
        return True
    body = case.operation.get_body_for_media_type(case.media_type)
    if body is None:
        return True
    validator_cls = case.operation.schema.adapter.jsonschema_validator_cls
    return make_validator(body.optimized_schema, validator_cls).is_valid(case.body)


# A run's size is the engine's business, not the contract's: fuzzing that starts Monte Carlo runs of thousands of
# scenarios keeps both cores busy for minutes after the operation was checked (and every later request waits for
# CPU). Valid sizes are scaled down; values outside the documented range are left for the negative checks.
RUN_LIMITS = {"scenarios": (20, 5_000), "time_horizon_days": (60, 730)}


@schemathesis.hook
def map_body(ctx, body):
    """Start small simulation runs: a documented scenario count or horizon above the test's cap becomes the cap."""
    operation = ctx.operation
    if operation is None or operation.method.upper() != "POST" or not operation.path.endswith("/simulations"):
        return body
    config = body.get("config") if isinstance(body, dict) else None
    if not isinstance(config, dict):
        return body
    smaller = dict(config)
    for name, (cap, most) in RUN_LIMITS.items():
        value = config.get(name)
        if type(value) is int and cap < value <= most:
            smaller[name] = cap
    if body.get("run_type") == "monte_carlo" and "scenarios" not in config:
        smaller["scenarios"] = RUN_LIMITS["scenarios"][0]  # instead of the default 200
    return {**body, "config": smaller}
