"""schemathesis over the whole API of a real gate (uvicorn, loopback): positive and negative data, every
check schemathesis has, a bounded number of examples per operation. The OpenAPI document must be true
to what the gate answers: status codes, bodies, content types, which endpoints need a token."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import CHECKS, is_check_class, load_all_checks
from schemathesis.generation import GenerationMode

from aurora.gate.gate_state import token_hash

from .conftest import API_TOKEN, OPS_TOKEN, LiveGate, module_gate

#: Every check schemathesis registers (not only the default set): status codes, schemas, content types,
#: headers, negative data rejected, positive data accepted, auth enforced, unsupported methods ...
load_all_checks()  # the OpenAPI checks register themselves when loaded
ALL_CHECKS = [c for c in CHECKS.get_all() if not is_check_class(c)]
EXAMPLES = int(__import__("os").environ.get("AURORA_FUZZ_EXAMPLES", "40"))


@pytest.fixture(scope="module")
def fuzz_gate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveGate]:
    live = module_gate(tmp_path_factory, "fuzz", reload_same=True)  # /ops/reload: the same config again
    yield live
    live.stop()


def _operations() -> list[tuple[str, str]]:
    """(method, path) of every documented operation, from the routers themselves (no gate needed)."""
    from fastapi.routing import APIRoute

    from aurora.api.routers import health, metrics, ops, posttrade, pretrade, state

    out = []
    for module in (pretrade, posttrade, state, health, metrics, ops):
        for route in module.router.routes:
            if isinstance(route, APIRoute) and route.include_in_schema:
                out.extend((m, route.path) for m in sorted(route.methods))
    return out


OPERATIONS = _operations()


@pytest.fixture(scope="module")
def api_schema(fuzz_gate: LiveGate):
    # 413 is a rejection too: a body over api.max_body_bytes is refused before it is read (and so before it
    # could be found schema-violating); schemathesis' default list of rejection codes lacks it
    config = schemathesis.Config.from_dict({"checks": {"negative_data_rejection": {"expected-statuses": [
        400, 401, 403, 404, 405, 406, 409, 413, 415, 422, 428, 429, "5XX"]}}})
    return schemathesis.openapi.from_url(f"{fuzz_gate.url}/openapi.json", config=config)


def test_every_route_is_fuzzed_with_every_check(api_schema) -> None:
    assert {"status_code_conformance", "response_schema_conformance", "negative_data_rejection",
            "positive_data_acceptance", "ignored_auth", "unsupported_method"} <= {c.__name__ for c in ALL_CHECKS}
    documented = {(op.ok().method.upper(), op.ok().path) for op in api_schema.get_all_operations()}
    assert documented == set(OPERATIONS)


# schemathesis' own pytest plugin does not run on pytest 9.2 (it sets a private node attribute that is
# gone); its strategies are used directly here, one Hypothesis run per operation and generation mode.
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["positive", "negative"])
@pytest.mark.parametrize("method, path", OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_the_api_is_what_its_openapi_document_says(method: str, path: str, mode: GenerationMode, api_schema,
                                                   fuzz_gate: LiveGate) -> None:  # fmt: skip
    operation = api_schema[path][method]
    if mode is GenerationMode.NEGATIVE and not (operation.body or operation.path_parameters or operation.query):
        pytest.skip("no input to make invalid")
    gate = fuzz_gate.gate

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(operation.as_strategy(generation_mode=mode))
    def run(case) -> None:
        try:
            case.call_and_validate(headers={"X-API-TOKEN": API_TOKEN, "X-OPS-TOKEN": OPS_TOKEN}, checks=ALL_CHECKS)
        finally:
            # a valid /ops/rotate_token really rotates: put the tokens back for the next example
            gate.tokens.api, gate.tokens.ops = token_hash(API_TOKEN), token_hash(OPS_TOKEN)

    run()
