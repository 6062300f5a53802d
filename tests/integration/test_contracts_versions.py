"""Pacts of every specification version and implementation style (pact-js V2, pact-jvm V3 HTTP and messages, V4
HTTP, async messages with text and binary contents, and synchronous messages), each verified by the harness and by pact-python's own
Verifier (the reference) against the same provider: the verdicts must agree, on a provider that keeps the
contracts (verified) and on a drifted one (failed)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from harness.contracts.pactfiles import is_sync_message, read_pact
from harness.contracts.states import load_states
from harness.contracts.verify import encode_message, request_message, verify_pact
from harness.contracts.worker import VerifierWorker
from harness.errors import MissingMessageProducer
from harness.runtime.topology import Topology
from harness.spec.loader import load_topology

from .conftest import TOPOLOGIES, harness_resources

PACTS = Path(__file__).parent / "pacts"
SHOP = TOPOLOGIES / "pact-shop"

TOPOLOGY = f"""
name: contract-versions
contracts:
  pacts: pacts
  states: [states.py]
services:
  shop:
    build: {SHOP}
    ports: [8000]
    ready: {{http: {{port: 8000, path: /health}}}}
  shop-drift:
    build: {SHOP}
    environment: {{DRIFT: "1"}}
    ports: [8000]
    ready: {{http: {{port: 8000, path: /health}}}}
"""

STATES = '''
import os
from harness.contracts import Message, in_container, message_producer, provider_state

FD1 = []  # what fd 1 of this process is while a state is set up (it must not be redirected)


def _states_of(service):
    @provider_state("the shop has items", provider=service)
    def items(topology, params):
        FD1.append(os.fstat(1).st_ino)
        return {}

    @provider_state("item 7 is a teapot", provider=service)
    def teapot(topology, params):  # the item lives in the provider's container: put it there
        in_container(topology, service, ["sh", "-c", f"echo teapot > /tmp/items/{int(params['id'])}"])

    @provider_state("an order exists", provider=service)
    def order(topology, params):
        return {}

    return items, teapot, order


shop_states = _states_of("shop")
drift_states = _states_of("shop-drift")


@message_producer("an order created event", provider="shop")
def order_created(topology, params):
    return Message({"type": "order.created", "order": {"id": params["id"], "total": 19.5}}, {"topic": "orders"})


@message_producer("an order created event", provider="shop-drift")
def order_created_drifted(topology, params):  # the (body, metadata) form; the topic drifted
    return {"type": "order.created", "order": {"id": params["id"], "total": 19.5}}, {"topic": "payments"}


@message_producer("a shipment notice as text", provider="shop")
def shipped(topology, params):
    return Message(f"order {params['id']} shipped", {"topic": "shipments"})


@message_producer("a shipment notice as text", provider="shop-drift")
def shipped_drifted(topology, params):
    return Message(f"order {params['id']} was shipped", {"topic": "shipments"})


@message_producer("a thumbnail", provider="shop")
def thumbnail(topology, params):
    return bytes([0, 1, 2, 3, 255])


@message_producer("a thumbnail", provider="shop-drift")
def thumbnail_drifted(topology, params):
    return bytes([0, 1, 2])


@message_producer("a stock query", provider="shop")
def stock(topology, params, request):  # a synchronous message: the reply to the pact's request
    asked = request.body
    return Message({"order": params["id"], "item": asked["item"], "warehouse": asked["warehouse"], "count": 3},
                   {"topic": "stock.replies"})


@message_producer("a stock query", provider="shop-drift")
def stock_drifted(topology, params, request):
    asked = request.body
    return Message({"order": params["id"], "item": asked["item"], "warehouse": asked["warehouse"], "count": "3"},
                   {"topic": "stock.replies"})


@message_producer("a label query", provider="shop")
def label(topology, params, request):  # a binary request, a text reply
    return f"label {request.body.decode().split()[-1]}: teapot"


@message_producer("a label query", provider="shop-drift")
def label_drifted(topology, params, request):
    return f"label {request.body.decode().split()[-1]}: kettle"
'''

PACT_FILES = ["v2-web-frontend-shop.json", "v3-reporting-shop.json", "v3-billing-shop.json", "v4-mobile-shop.json",
              "v4-stock-client-shop-sync.json"]
SYNC = "v4-stock-client-shop-sync.json"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("versions")
    (folder / "pacts").mkdir()
    (folder / "states.py").write_text(STATES)
    (folder / "topology.yaml").write_text(TOPOLOGY)
    return folder


@pytest.fixture(scope="module")
def running(project: Path, docker_client: Any) -> Any:
    with Topology.start(load_topology(project / "topology.yaml"), shared=True) as topology:  # as `harness up`
        yield topology
    assert harness_resources(docker_client, "contract-versions") == []


def pact_for(project: Path, name: str, provider: str, edit: Any = None, suffix: str = "") -> Path:
    """The pact `name` with its provider renamed to `provider` (the drifted service), in the project's folder;
    `edit(data)` changes it further."""
    data = json.loads((PACTS / name).read_text())
    data["provider"]["name"] = provider
    if edit is not None:
        edit(data)
    target = project / "pacts" / f"{provider}{suffix}-{name}"
    target.write_text(json.dumps(data))
    return target


def plain_verdict(topology: Topology, file: Path, registry: Any, service: str) -> str:
    """pact-python's Verifier, as its documentation shows it, with Python callables for states and messages."""
    from pact import Verifier

    pact = read_pact(file)
    verifier = Verifier(pact.provider, host="127.0.0.1").set_coloured_output(enabled=False)
    if pact.has_http:
        verifier.add_transport(url=topology[service].url)

    def state(state: str, action: str, parameters: dict[str, Any] | None) -> None:
        if action == "setup" and state:  # the verifier also calls for interactions without a state
            registry.state(service, state)(topology, parameters or {})

    def message(name: str, metadata: dict[str, Any] | None) -> dict[str, Any]:
        params = {k: v for s in (metadata or {}).get("providerStates", []) for k, v in (s.get("params") or {}).items()}
        producer = registry.message(service, name)
        if is_sync_message(pact.interaction(name) or {}):  # pact-python hands on the request the core sent
            produced = producer(topology, params, request_message((metadata or {})["request"]))
        else:
            produced = producer(topology, params)
        body, content_type, meta = encode_message(produced, pact.interaction(name))
        return {"contents": body, "metadata": meta, "content_type": content_type}

    if pact.has_messages:
        verifier.message_handler(message)
    verifier.state_handler(state, teardown=True)
    verifier.add_source(str(file))
    try:
        verifier.verify()
        return "verified"
    except RuntimeError:
        return "failed"


@pytest.mark.parametrize("name", PACT_FILES)
@pytest.mark.parametrize(("service", "expected"), [("shop", "verified"), ("shop-drift", "failed")])
def test_the_harness_agrees_with_pact_pythons_verifier(project: Path, running: Topology, name: str, service: str,
                                                        expected: str) -> None:
    registry = load_states([project / "states.py"])
    file = pact_for(project, name, service)
    with VerifierWorker() as worker:
        result = verify_pact(running, read_pact(file), registry, worker)
    assert plain_verdict(running, file, registry, service) == expected
    assert result.verdict == expected, result.report
    judged = {i.description: i.passed for i in result.interactions}
    assert set(judged) == {i["description"] for i in read_pact(file).interactions}  # one result per interaction
    if expected == "failed":
        assert not all(judged.values()) and result.report


def test_fd1_of_the_process_is_never_redirected(project: Path, running: Topology) -> None:
    """The verifier's prints go to the worker's fd 1; this process's fd 1 stays what it is during a verification."""
    registry = load_states([project / "states.py"])
    before = os.fstat(1).st_ino
    result = verify_pact(running, read_pact(pact_for(project, "v2-web-frontend-shop.json", "shop")), registry)
    assert result.passed
    seen = [h.__globals__["FD1"] for h in registry.states.values()][0]
    assert seen and set(seen) == {before}


def test_a_missing_message_producer_is_a_clear_error(project: Path, running: Topology) -> None:
    registry = load_states([project / "states.py"])
    registry.messages.pop(("shop", "an order created event"))
    with pytest.raises(MissingMessageProducer) as info:
        verify_pact(running, read_pact(pact_for(project, "v3-billing-shop.json", "shop")), registry)
    assert "no message producer for 'an order created event' of billing->shop" in str(info.value)
    assert "@message_producer('an order created event', provider='shop')" in str(info.value)


@pytest.mark.parametrize(("responses", "plain"), [(0, "verified"), (2, "failed")])
def test_a_synchronous_message_with_other_than_one_response_is_an_error_never_a_pass(
        project: Path, running: Topology, responses: int, plain: str) -> None:
    """pact-python's Verifier (pact_ffi 0.5) checks one response per synchronous message: with none it passes
    having checked nothing (a false pass), with two it warns "will only use the first response" and then fails the
    interaction on a content type it does not find. The harness says why it cannot verify such a pact instead."""
    def responses_of(data: dict[str, Any]) -> None:
        reply = data["interactions"][0]["response"][0]
        data["interactions"][0]["response"] = [reply] * responses
    file = pact_for(project, SYNC, "shop", responses_of, suffix=f"-{responses}-responses")
    registry = load_states([project / "states.py"])
    result = verify_pact(running, read_pact(file), registry)
    assert plain_verdict(running, file, registry, "shop") == plain
    assert result.verdict == "error" and result.exit_code == 2
    assert (f"{file.name}: synchronous message(s) with other than one response ('a stock query' has {responses}): "
            "pact-python's Verifier checks exactly one response per synchronous message and cannot verify these"
            ) in result.reason
    assert "split the interaction into one per response, or exclude the pact under `contracts.exclude`" in result.reason


def test_a_synchronous_message_producer_gets_the_request_and_the_state_params(project: Path,
                                                                              running: Topology) -> None:
    """The reply depends on the request and the params: a producer that did not get them could not pass."""
    def other_request(data: dict[str, Any]) -> None:
        interaction = data["interactions"][0]
        interaction["providerStates"][0]["params"]["id"] = 9
        interaction["request"]["contents"]["content"]["warehouse"] = "south"
        interaction["response"][0]["contents"]["content"].update({"order": 9, "warehouse": "south"})
        data["interactions"][0]["response"][0]["matchingRules"]["body"].pop("$.warehouse")
    file = pact_for(project, SYNC, "shop", other_request, suffix="-south")
    registry = load_states([project / "states.py"])
    assert verify_pact(running, read_pact(file), registry).verdict == "verified"
    assert plain_verdict(running, file, registry, "shop") == "verified"

    def wrong_reply(data: dict[str, Any]) -> None:
        other_request(data)
        data["interactions"][0]["response"][0]["contents"]["content"]["warehouse"] = "north"
    file = pact_for(project, SYNC, "shop", wrong_reply, suffix="-south-wrong")
    result = verify_pact(running, read_pact(file), registry)
    assert plain_verdict(running, file, registry, "shop") == "failed"
    assert result.verdict == "failed"
    assert [i.description for i in result.interactions if not i.passed] == ["a stock query"]
    assert any("$.warehouse" in problem for i in result.interactions for problem in i.problems), result.report
