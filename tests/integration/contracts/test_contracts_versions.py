"""Pacts of every specification version and implementation style (pact-js V2, pact-jvm V3 HTTP and messages, V4
HTTP, async messages with text and binary contents, and synchronous messages), each verified by the harness and by pact-python's own
Verifier (the reference) against the same provider: the verdicts must agree, on a provider that keeps the
contracts (verified) and on a drifted one (failed)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from harness.contracts.messages import encode_message, request_message
from harness.contracts.pactfiles import is_sync_message, read_pact
from harness.contracts.states import load_states
from harness.contracts.verify import verify_pact
from harness.contracts.worker import VerifierWorker
from harness.errors import MissingMessageProducer
from harness.model.loader import load_topology
from harness.runtime.topology import Topology

from ..conftest import TOPOLOGIES, harness_resources

PACTS = Path(__file__).parent.parent / "pacts"
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
    assert harness_resources(docker_client, "contract-versions", project / "topology.yaml") == []


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


def plain_verdict(topology: Topology, file: Path, registry: Any, service: str, as_is: bool = False) -> str:
    """pact-python's Verifier, as its documentation shows it, with Python callables for states and messages.
    `as_is`: the producers return pact-python's own message dict, handed to it unchanged."""
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
        if as_is:
            return produced
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


CONSUMER_TEST = """
import json
from pact import match


def on_message(body, metadata):
    \"\"\"The scheduler's message handler: a job (JSON) or a note (text).\"\"\"
    if metadata["contentType"] == "application/json":
        job = json.loads(str(body))
        assert job["kind"] == "fetch" and isinstance(job["runner"], int) and metadata["topic"] == "jobs"
    else:
        assert str(body).startswith("job ")


def test_scheduler_reads_jobs_and_notes(pact):
    p = pact("scheduler", "shop")
    (p.upon_receiving("a fetch job", "Async").given("runner 7 exists", runner=7)
      .with_body({"runner": match.int(7), "kind": "fetch"}, "application/json").with_metadata({"topic": "jobs"}))
    p.upon_receiving("a job note", "Async").given("the queue is open").with_body("job 7 queued", "text/plain")
    p.verify(on_message, "Async")
"""

PACT_PYTHON_PRODUCERS = '''
import json
from harness.contracts import message_producer, provider_state


def _producers(service, kind, note):
    @provider_state("runner 7 exists", provider=service)
    def runner(topology, params):
        return {}

    @provider_state("the queue is open", provider=service)
    def queue(topology, params):
        return {}

    @message_producer("a fetch job", provider=service)
    def job(topology, params):  # pact-python's own message: JSON as bytes
        return {"contents": json.dumps({"runner": params["runner"], "kind": kind}).encode(),
                "metadata": {"topic": "jobs"}, "content_type": "application/json"}

    @message_producer("a job note", provider=service)
    def note_(topology, params):  # text as bytes, no metadata
        return {"contents": note.encode(), "metadata": None, "content_type": "text/plain"}

    return runner, queue, job, note_


shop = _producers("shop", "fetch", "job 7 queued")
drifted = _producers("shop-drift", "refetch", "job 7 dropped")
'''

ASYNC_HANDLERS = '''
import asyncio
from harness.contracts import Message, message_producer, provider_state

LOOPS = []  # the running loop of every call
TEARDOWNS = []


def _handlers(service, kind, note):
    @provider_state("runner 7 exists", provider=service)
    async def runner(topology, params):  # an async generator: setup, then teardown after the yield
        LOOPS.append(asyncio.get_running_loop())
        await asyncio.sleep(0)
        yield {}
        TEARDOWNS.append((service, params["runner"]))

    @provider_state("the queue is open", provider=service)
    async def queue(topology, params):
        LOOPS.append(asyncio.get_running_loop())

    @message_producer("a fetch job", provider=service)
    async def job(topology, params):
        LOOPS.append(asyncio.get_running_loop())
        await asyncio.sleep(0)
        return Message({"runner": params["runner"], "kind": kind}, {"topic": "jobs"})

    @message_producer("a job note", provider=service)
    async def note_(topology, params):  # async, and pact-python's message shape
        LOOPS.append(asyncio.get_running_loop())
        return {"contents": note.encode(), "metadata": None, "content_type": "text/plain"}

    return runner, queue, job, note_


shop = _handlers("shop", "fetch", "job 7 queued")
drifted = _handlers("shop-drift", "refetch", "job 7 dropped")
'''


@pytest.fixture(scope="module")
def scheduler_pact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A message pact (JSON with metadata and a state with params, and text) written by a pact-python consumer test
    through the `pact` fixture."""
    folder = tmp_path_factory.mktemp("scheduler")
    (folder / "test_consumer.py").write_text(CONSUMER_TEST)
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--pact-dir",
                             str(folder / "pacts"), "test_consumer.py"], cwd=folder, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    return folder / "pacts" / "scheduler-shop.json"


def scheduler_pact_for(project: Path, scheduler_pact: Path, provider: str) -> Path:
    data = json.loads(scheduler_pact.read_text())
    data["provider"]["name"] = provider
    target = project / "pacts" / f"scheduler-{provider}.json"
    target.write_text(json.dumps(data))
    return target


@pytest.mark.parametrize(("service", "expected"), [("shop", "verified"), ("shop-drift", "failed")])
def test_producers_may_return_pact_pythons_message_dict(project: Path, running: Topology, scheduler_pact: Path,
                                                        service: str, expected: str) -> None:
    """bytes contents (a JSON and a text content type) passed on as pact-python's Verifier passes them: the same
    verdict as that Verifier given the same producers."""
    (project / "pact_python_states.py").write_text(PACT_PYTHON_PRODUCERS)
    registry = load_states([project / "pact_python_states.py"])
    file = scheduler_pact_for(project, scheduler_pact, service)
    with VerifierWorker() as worker:
        result = verify_pact(running, read_pact(file), registry, worker)
    assert plain_verdict(running, file, registry, service, as_is=True) == expected
    assert result.verdict == expected, result.report
    judged = {i.description: i.passed for i in result.interactions}
    assert judged == {"a fetch job": expected == "verified", "a job note": expected == "verified"}, result.report
    if expected == "failed":
        assert "job 7 dropped" in result.report and "refetch" in result.report


def test_async_state_handlers_and_producers_are_verified_on_one_loop(project: Path, running: Topology,
                                                                      scheduler_pact: Path) -> None:
    (project / "async_states.py").write_text(ASYNC_HANDLERS)
    registry = load_states([project / "async_states.py"])
    try:
        with VerifierWorker() as worker:
            verified = verify_pact(running, read_pact(scheduler_pact_for(project, scheduler_pact, "shop")), registry,
                                   worker)
            failed = verify_pact(running, read_pact(scheduler_pact_for(project, scheduler_pact, "shop-drift")),
                                 registry, worker)
        assert verified.verdict == "verified", verified.report
        assert failed.verdict == "failed" and not any(i.passed for i in failed.interactions), failed.report
        module = registry.state("shop", "runner 7 exists").__globals__
        loops = module["LOOPS"]
        assert len(loops) >= 8 and len(set(map(id, loops))) == 1  # every call of both pacts on one loop
        assert ("shop", 7) in module["TEARDOWNS"]  # the async generator's teardown ran
    finally:
        registry.close()
    assert loops[0].is_closed()
