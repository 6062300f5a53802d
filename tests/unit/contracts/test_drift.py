"""Pact <-> OpenAPI drift, statically (no Docker): the Runnerly pacts against their providers' documents, mutated
documents, base paths (OpenAPI 3 servers and Swagger 2 basePath), a V2 pact, where the document comes from, JUnit."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path
from xml.etree import ElementTree

import pytest
import yaml

from harness.cli import main
from harness.contracts.drift import CLEAN, DRIFT, ERROR, NOT_APPLICABLE, DriftRun, PactDrift, check_topology
from harness.model.loader import load_topology
from harness.report.drift import result_text, write_drift_junit

ROOT = Path(__file__).resolve().parent.parents[2]
RUNNERLY = ROOT / "scenarios" / "runnerly" / "topology.yaml"
DRIFT_INPUTS = ROOT / "tests" / "drift"


def _by_edge(results: list[PactDrift]) -> dict[str, PactDrift]:
    return {r.edge: r for r in results}


def test_every_runnerly_pact_is_clean_against_its_providers_openapi() -> None:
    results = list(check_topology(load_topology(RUNNERLY)))
    verdicts = {r.edge: r.verdict for r in results}
    assert verdicts == {
        "dataservice->tokendealer": CLEAN, "gateway->dataservice": CLEAN, "gateway->tokendealer": CLEAN,
        "worker->dataservice": CLEAN, "worker->strava": CLEAN, "worker->tokendealer": CLEAN,
        "worker->gateway": NOT_APPLICABLE}
    checked = [i for r in results if r.verdict == CLEAN for i in r.interactions]
    assert len(checked) == 15 and all(i.verdict == CLEAN and i.operation for i in checked)
    # served at /openapi.json: read from the service's build context, and said so
    assert _by_edge(results)["worker->strava"].source == (
        f"file {ROOT / 'fixtures/strava/openapi.yaml'} in the build context of strava (it serves /openapi.json)")
    message = _by_edge(results)["worker->gateway"]
    assert message.reason == "a message pact: no HTTP request to check against OpenAPI"
    assert [i.verdict for i in message.interactions] == [NOT_APPLICABLE]


def test_checked_ahead_the_verdicts_are_those_checked_in_turn_and_count_once_asked_for(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import threading

    from harness.contracts.drift import run as drift_run

    # documents that are files next to the topology (a served one is fetched when asked for: see below)
    shutil.copytree(DRIFT_INPUTS / "pacts", tmp_path / "pacts")
    shutil.copy(DRIFT_INPUTS / "catalog-openapi30.yaml", tmp_path)
    pact = json.loads((tmp_path / "pacts/web-catalog.json").read_text())
    (tmp_path / "pacts/shop-catalog.json").write_text(json.dumps({**pact, "consumer": {"name": "shop"}}))
    (tmp_path / "topology.yaml").write_text(
        "contracts: {pacts: pacts}\nservices:\n  catalog: {image: python:3.11-slim, openapi: catalog-openapi30.yaml}\n"
        "  web: {image: python:3.11-slim}\n  shop: {image: python:3.11-slim}\n")
    spec = load_topology(tmp_path / "topology.yaml")
    in_turn = DriftRun(spec)
    expected = [in_turn.check(file) for file in in_turn.files()]
    checked_in: list[str] = []
    check_pact = drift_run.check_pact
    monkeypatch.setattr(drift_run, "check_pact", lambda *args: checked_in.append(threading.current_thread().name)
                        or check_pact(*args))
    ahead = DriftRun(spec)
    files = ahead.files()
    ahead.check_ahead(list(reversed(files))).join()
    assert checked_in == ["drift-ahead"] * len(files)
    assert ahead.results == []  # checked, not yet asked for: no verdict in the matrix or summary
    got = [ahead.check(file) for file in files]
    assert [(r.edge, r.verdict, r.source, [(i.description, i.verdict) for i in r.interactions]) for r in got] == \
        [(r.edge, r.verdict, r.source, [(i.description, i.verdict) for i in r.interactions]) for r in expected]
    assert ahead.results == got  # in the order asked for
    assert checked_in == ["drift-ahead"] * len(files)  # none checked twice
    ahead.stop_ahead()


def test_a_served_document_is_fetched_when_asked_for_not_ahead(tmp_path: Path) -> None:
    shutil.copytree(DRIFT_INPUTS / "pacts", tmp_path / "pacts")
    (tmp_path / "topology.yaml").write_text("contracts: {pacts: pacts}\nservices:\n  catalog:\n"
                                            "    image: python:3.11-slim\n    openapi: /openapi.json\n")
    calls = []

    def fetch(service: str, path: str) -> tuple[str, str]:
        calls.append((service, path))
        return (DRIFT_INPUTS / "catalog-openapi30.yaml").read_text(), "served by the running topology at URL"

    run = DriftRun(load_topology(tmp_path / "topology.yaml"), fetch=fetch)
    [file] = run.files()
    run.check_ahead([file]).join()
    assert calls == []  # a test running meanwhile may have stopped the service
    result = run.check(file)
    assert (result.verdict, result.source, calls) == (CLEAN, "served by the running topology at URL",
                                                      [("catalog", "/openapi.json")])


def test_a_served_document_is_preferred_to_an_older_file_in_the_build_context(tmp_path: Path) -> None:
    """What the running service serves at `openapi: /openapi.json` judges (as `st run` would use it), not a file of
    its build context that may be older; the file only when it cannot be fetched, and the source says why."""
    from harness.contracts.drift.sources import find_document
    from harness.errors import OpenAPIUnavailable

    (tmp_path / "catalog").mkdir()
    (tmp_path / "catalog/Dockerfile").write_text("FROM python:3.11-slim\n")
    served = yaml.safe_load((DRIFT_INPUTS / "catalog-openapi30.yaml").read_text())
    older = {**served, "info": {"title": "older", "version": "0"}}
    (tmp_path / "catalog/openapi.json").write_text(json.dumps(older))
    (tmp_path / "topology.yaml").write_text("services:\n  catalog:\n    build: catalog\n    openapi: /openapi.json\n")
    spec = load_topology(tmp_path / "topology.yaml")
    file = tmp_path / "catalog" / "openapi.json"

    def serving(service: str, path: str) -> tuple[str, str]:
        return json.dumps(served), f"served by the running topology at http://127.0.0.1:1{path} (run r1)"

    data, source, found = find_document(spec, "catalog", serving)
    assert (data["info"], found) == (served["info"], None)
    assert source == (f"served by the running topology at http://127.0.0.1:1/openapi.json (run r1), not the file "
                      f"{file} in its build context")

    def down(service: str, path: str) -> tuple[str, str]:
        raise OpenAPIUnavailable("no running topology f26h", service=service)

    data, source, found = find_document(spec, "catalog", down)
    assert (data["info"]["title"], found) == ("older", file)
    assert source == f"file {file} in the build context of catalog (it serves /openapi.json; not fetched: no " \
                     "running topology f26h)"
    file.unlink()
    with pytest.raises(OpenAPIUnavailable) as failed:
        find_document(spec, "catalog", down)
    assert str(failed.value) == (
        f"service 'catalog' serves its OpenAPI document at /openapi.json: no document in its build context "
        f"{tmp_path / 'catalog'}, and no running topology f26h to fetch it from. Start one with `harness up --detach "
        f"--topology {tmp_path / 'topology.yaml'}`, or point `openapi:` at a file next to the topology.")

    def broken(service: str, path: str) -> tuple[str, str]:
        raise OpenAPIUnavailable("cannot fetch it from http://127.0.0.1:1/openapi.json: 404 Client Error",
                                 service=service, location="http://127.0.0.1:1/openapi.json")

    with pytest.raises(OpenAPIUnavailable) as failed:
        find_document(spec, "catalog", broken)
    assert str(failed.value) == (
        f"service 'catalog' serves its OpenAPI document at /openapi.json: no document in its build context "
        f"{tmp_path / 'catalog'}, and cannot fetch it from http://127.0.0.1:1/openapi.json: 404 Client Error")


def _mutated_runnerly(tmp_path: Path, mutate) -> Path:  # noqa: ANN001 - a function of the dataservice document
    """Runnerly's topology with dataservice's document replaced by a mutated copy next to the topology file."""
    document = yaml.safe_load((ROOT / "fixtures/dataservice/openapi.yaml").read_text())
    mutate(document)
    (tmp_path / "dataservice.yaml").write_text(yaml.safe_dump(document, sort_keys=False))
    topology = yaml.safe_load(RUNNERLY.read_text())
    topology["contracts"] = {"pacts": str(ROOT / "contracts")}
    for service in topology["services"].values():
        if "build" in service:
            service["build"] = str((RUNNERLY.parent / service["build"]).resolve())
        service.pop("mounts", None)
    topology["services"]["dataservice"]["openapi"] = "dataservice.yaml"
    (tmp_path / "topology.yaml").write_text(yaml.safe_dump(topology, sort_keys=False))
    return tmp_path / "topology.yaml"


def _three_ways(document: dict) -> None:
    run = document["components"]["schemas"]["Run"]
    run["properties"]["distance_m"] = run["properties"].pop("distance")      # a response property renamed
    run["required"] = ["distance_m" if name == "distance" else name for name in run["required"]]
    del document["paths"]["/api/users/{userId}"]["get"]["responses"]["404"]   # a status removed
    runs = document["paths"]["/api/runs/{runnerId}/{year}/{month}"]
    operation = runs["get"]
    operation.setdefault("parameters", []).append(                            # a required query parameter added
        {"name": "limit", "in": "query", "required": True, "schema": {"type": "integer", "minimum": 1}})


def test_a_spec_mutated_three_ways_gives_three_named_drifts(tmp_path: Path) -> None:
    results = _by_edge(list(check_topology(load_topology(_mutated_runnerly(tmp_path, _three_ways)),
                                           provider="dataservice")))
    assert set(results) == {"gateway->dataservice", "worker->dataservice"}
    gateway = results["gateway->dataservice"]
    assert gateway.verdict == DRIFT and gateway.source == f"file {tmp_path / 'dataservice.yaml'}"
    found = {(interaction, f.pointer) for interaction, f in gateway.findings}
    assert found == {
        ("a request for the runs of user 1 in March 2026", "/request/query/limit"),
        ("a request for the runs of user 999 in March 2026", "/request/query/limit"),
        ("a request for the runs of user 1 in March 2026", "/response/body/items/0/distance"),
        ("a request for the runs of user 1 in March 2026", "/response/body/items/1/distance"),
        ("a request for the runs of user 1 in March 2026", "/response/body/items/2/distance"),
        ("a request for user 999", "/response/status"),
    }
    findings = {(i, f.pointer): f for i, f in gateway.findings}
    renamed = findings["a request for the runs of user 1 in March 2026", "/response/body/items/0/distance"]
    assert (renamed.pact_says, renamed.spec_says) == ("5012.3", "property 'distance' is not described by the schema")
    assert renamed.spec_pointer.endswith("/get/responses/200/content/application~1json/schema/properties/items/items"
                                         "/additionalProperties")
    status = findings["a request for user 999", "/response/status"]
    assert (status.pact_says, status.spec_says) == ("404", "GET /api/users/{userId} documents 200, 400, 401, 503")
    assert status.spec_pointer == "#/paths/~1api~1users~1{userId}/get/responses"
    query = findings["a request for the runs of user 999 in March 2026", "/request/query/limit"]
    assert (query.pact_says, query.spec_says) == ("absent", "required query parameter 'limit'")
    text = result_text(gateway)
    assert "DRIFT gateway->dataservice (gateway-dataservice.json)" in text
    assert "  interaction 'a request for user 999' (GET /api/users/{userId})\n    at   /response/status\n" \
           "    pact 404\n    spec GET /api/users/{userId} documents 200, 400, 401, 503" in text
    # worker posts runs (a RunBatch, unchanged) and reads a user (still documented): no drift
    assert results["worker->dataservice"].verdict == CLEAN


@pytest.mark.parametrize("topology", ["topology-swagger2.yaml", "topology-openapi30.yaml"])
def test_a_v2_pact_is_clean_against_swagger2_and_openapi30_with_their_base_paths(topology: str) -> None:
    [result] = check_topology(load_topology(DRIFT_INPUTS / topology))
    assert (result.edge, result.verdict) == ("web->catalog", CLEAN), result_text(result)
    assert [i.operation for i in result.interactions] == ["GET /products/{id}", "POST /products",
                                                          "GET /products/{id}"]


@pytest.mark.parametrize("topology", ["topology-swagger2.yaml", "topology-openapi30.yaml"])
def test_v2_drifts_name_pointer_pact_and_spec(tmp_path: Path, topology: str) -> None:
    pacts = tmp_path / "pacts"
    pacts.mkdir()
    pact = json.loads((DRIFT_INPUTS / "pacts/web-catalog.json").read_text())
    get, post, missing = pact["interactions"]
    get["request"]["path"] = "/products/10"                         # the base path left out
    post["request"]["body"] = {"name": "Table", "price": -1}        # below the minimum
    post["response"]["body"]["colour"] = "red"                      # a property the spec does not describe
    missing["request"]["headers"] = {}                              # a required header left out
    missing["request"]["method"] = "DELETE"
    (pacts / "web-catalog.json").write_text(json.dumps(pact))
    [result] = check_topology(load_topology(DRIFT_INPUTS / topology), pacts)
    found = {(i, f.pointer): f for i, f in result.findings}
    assert set(found) == {("a request for product 10", "/request/path"),
                          ("a new product", "/request/body/price"),
                          ("a new product", "/response/body/colour"),
                          ("a request for a missing product", "/request/method")}
    assert "base path /api/v1" in found["a request for product 10", "/request/path"].spec_says
    assert found["a new product", "/request/body/price"].pact_says == "-1"
    assert "-1 is less than the minimum of 0" in found["a new product", "/request/body/price"].spec_says
    colour = found["a new product", "/response/body/colour"]
    assert (colour.pact_says, colour.spec_says) == ("red", "property 'colour' is not described by the schema")
    assert found["a request for a missing product", "/request/method"].spec_says == \
        "path /products/{id} has no DELETE operation (it has GET)"


def test_a_served_document_without_a_file_or_a_running_topology_is_an_error_with_its_reason(tmp_path: Path) -> None:
    shutil.copytree(DRIFT_INPUTS / "pacts", tmp_path / "pacts")
    (tmp_path / "topology.yaml").write_text("contracts: {pacts: pacts}\nservices:\n  catalog:\n"
                                            "    image: python:3.11-slim\n    openapi: /openapi.json\n")
    spec = load_topology(tmp_path / "topology.yaml")
    [result] = check_topology(spec)
    assert result.verdict == ERROR
    assert result.reason == (
        "service 'catalog' serves its OpenAPI document at /openapi.json: it has no build context (image "
        f"python:3.11-slim), and no running topology to fetch it from. Start one with `harness up --detach "
        f"--topology {tmp_path / 'topology.yaml'}`, or point `openapi:` at a file next to the topology.")
    # fetched once from a running topology: the source says so
    calls = []

    def fetch(service: str, path: str) -> tuple[str, str]:
        calls.append((service, path))
        return (DRIFT_INPUTS / "catalog-openapi30.yaml").read_text(), "served by the running topology at URL"

    [result] = check_topology(spec, fetch=fetch)
    assert (result.verdict, result.source, calls) == (CLEAN, "served by the running topology at URL",
                                                      [("catalog", "/openapi.json")])


def test_unreadable_pacts_and_unknown_providers_are_errors_and_a_provider_without_openapi_not_applicable(
        tmp_path: Path) -> None:
    pacts = tmp_path / "pacts"
    pacts.mkdir()
    (pacts / "broken.json").write_text("{")
    pact = json.loads((DRIFT_INPUTS / "pacts/web-catalog.json").read_text())
    (pacts / "web-catalog.json").write_text(json.dumps(pact))
    (pacts / "web-Catalogue.json").write_text(json.dumps({**pact, "provider": {"name": "Catalogue"}}))
    (pacts / "web-search.json").write_text(json.dumps({**pact, "provider": {"name": "search"}}))
    (pacts / "web-empty.json").write_text(json.dumps({**pact, "interactions": []}))
    shutil.copy(DRIFT_INPUTS / "catalog-openapi30.yaml", tmp_path)
    (tmp_path / "topology.yaml").write_text("contracts: {pacts: pacts}\nservices:\n"
                                            "  catalog: {image: x, openapi: catalog-openapi30.yaml}\n"
                                            "  search: {image: x}\n")
    results = {r.path.name: r for r in check_topology(load_topology(tmp_path / "topology.yaml"))}
    assert {name: r.verdict for name, r in results.items()} == {
        "broken.json": ERROR, "web-Catalogue.json": ERROR, "web-catalog.json": CLEAN, "web-search.json": NOT_APPLICABLE,
        "web-empty.json": ERROR}
    assert results["web-empty.json"].reason.startswith("the pact has no interactions: nothing to check")
    assert results["broken.json"].reason.endswith("broken.json:1: not valid JSON (Expecting property name enclosed "
                                                  "in double quotes); regenerate it by running the consumer tests")
    assert results["web-Catalogue.json"].reason == ("provider 'Catalogue' is not a service of topology "
                                                    f"{tmp_path.name} (did you mean 'catalog'? map the name with "
                                                    "`pact_name: Catalogue` on service catalog, or under "
                                                    "`contracts.names` in the topology file; in a compose file "
                                                    "both go under `x-topology:`, of the service and at the top); "
                                                    "services: catalog, search")
    assert results["web-search.json"].reason == ("provider 'search' declares no `openapi:` in the topology: no "
                                                 "document to check")


def test_an_invalid_document_is_an_error_naming_it(tmp_path: Path) -> None:
    document = yaml.safe_load((DRIFT_INPUTS / "catalog-openapi30.yaml").read_text())
    broken = copy.deepcopy(document)
    del broken["paths"]["/products"]["post"]["responses"]
    (tmp_path / "catalog.yaml").write_text(yaml.safe_dump(broken))
    shutil.copytree(DRIFT_INPUTS / "pacts", tmp_path / "pacts")
    (tmp_path / "topology.yaml").write_text("contracts: {pacts: pacts}\nservices:\n"
                                            "  catalog: {image: x, openapi: catalog.yaml}\n")
    [result] = check_topology(load_topology(tmp_path / "topology.yaml"))
    assert result.verdict == ERROR
    assert result.reason.startswith(f"the OpenAPI document (file {tmp_path / 'catalog.yaml'}) is not valid: ")


def test_cli_exit_codes_output_and_junit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["drift", "--topology", str(RUNNERLY), "--junit", str(tmp_path / "clean.xml")]) == 0
    out = capsys.readouterr().out
    assert "clean worker->strava (worker-strava.json)\n  spec: file " in out
    assert out.rstrip().endswith("7 pact(s): 6 clean, 1 not applicable")
    clean = ElementTree.parse(tmp_path / "clean.xml").getroot()  # expat: a strict XML parser
    assert (clean.get("tests"), clean.get("failures"), clean.get("errors"), clean.get("skipped")) == ("16", "0", "0",
                                                                                                        "1")

    mutated = _mutated_runnerly(tmp_path, _three_ways)
    assert main(["drift", "--topology", str(mutated), "--provider", "dataservice",
                 "--junit", str(tmp_path / "drift.xml")]) == 1
    assert "DRIFT gateway->dataservice" in capsys.readouterr().out
    root = ElementTree.parse(tmp_path / "drift.xml").getroot()
    failed = [case.get("name") for case in root if case.find("failure") is not None]
    assert sorted(failed) == ["drift[gateway->dataservice: a request for the runs of user 1 in March 2026]",
                              "drift[gateway->dataservice: a request for the runs of user 999 in March 2026]",
                              "drift[gateway->dataservice: a request for user 999]"]

    assert main(["drift", "--topology", str(RUNNERLY), "--provider", "nobody"]) == 2
    assert "error: no pact in " in capsys.readouterr().err


def test_cli_an_empty_folder_or_an_unreadable_pact_is_bad_input(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """A drift gate pointed at the wrong folder does not pass; an error verdict exits 2 (bad input), as in verify."""
    (tmp_path / "pacts").mkdir()
    assert main(["drift", "--topology", str(RUNNERLY), "--pacts", str(tmp_path / "pacts")]) == 2
    assert f"error: no pact to check in {tmp_path / 'pacts'}: no *.json file there" in capsys.readouterr().err
    shutil.copy(ROOT / "contracts" / "gateway-dataservice.json", tmp_path / "pacts")
    (tmp_path / "pacts" / "broken.json").write_text("{not json")
    assert main(["drift", "--topology", str(RUNNERLY), "--pacts", str(tmp_path / "pacts")]) == 2
    out = capsys.readouterr().out
    assert "clean gateway->dataservice" in out and "ERROR" in out and "broken.json" in out


def test_junit_is_valid_xml_whatever_the_pact_holds(tmp_path: Path) -> None:
    pacts = tmp_path / "pacts"
    pacts.mkdir()
    pact = json.loads((DRIFT_INPUTS / "pacts/web-catalog.json").read_text())
    pact["interactions"][1]["description"] = "a new product \x1b[31m<red>\x07 & more"
    pact["interactions"][1]["response"]["body"]["colour"] = "\x00\x1b[1m]]>"
    (pacts / "web-catalog.json").write_text(json.dumps(pact))
    results = list(check_topology(load_topology(DRIFT_INPUTS / "topology-openapi30.yaml"), pacts))
    assert results[0].verdict == DRIFT
    root = ElementTree.parse(write_drift_junit(results, tmp_path / "out.xml", tmp_path / "topology.yaml")).getroot()
    assert [case.get("name") for case in root if case.find("failure") is not None] == [
        "drift[web->catalog: a new product <red> & more]"]


def test_v3_and_v4_shapes_and_a_message_next_to_http_interactions(tmp_path: Path) -> None:
    pacts = tmp_path / "pacts"
    pacts.mkdir()
    v3 = {"consumer": {"name": "web"}, "provider": {"name": "catalog"},
          "metadata": {"pactSpecification": {"version": "3.0.0"}},
          "interactions": [{
              "description": "a request for product 10 (V3)",
              "providerStates": [{"name": "a product", "params": {"id": 10}}],
              "request": {"method": "GET", "path": "/api/v1/products/10", "query": {"fields": ["name", "price"]},
                          "headers": {"X-Request-Id": "abc-126"}},
              "response": {"status": 200, "headers": {"Content-Type": "application/json"},
                           "body": {"id": 10, "name": "Chair", "price": "cheap"},
                           "matchingRules": {"body": {"$.id": {"matchers": [{"match": "integer"}]}}}}}]}
    v4 = {"consumer": {"name": "web"}, "provider": {"name": "catalog"},
          "metadata": {"pactSpecification": {"version": "4.0"}},
          "interactions": [
              {"type": "Synchronous/HTTP", "description": "a new product (V4)",
               "request": {"method": "POST", "path": "/api/v1/products", "headers": {"X-Request-Id": ["abc-127"]},
                           "body": {"content": {"name": "Table", "price": 99}, "contentType": "application/json",
                                    "encoded": False}},
               "response": {"status": 201, "body": {"content": {"id": 11}, "contentType": "application/json",
                                                    "encoded": False}}},
              {"type": "Asynchronous/Messages", "description": "a product-created event",
               "contents": {"content": {"id": 11}, "contentType": "application/json", "encoded": False}}]}
    (pacts / "web-catalog-v3.json").write_text(json.dumps(v3))
    (pacts / "web-catalog-v4.json").write_text(json.dumps(v4))
    results = {r.path.name: r for r in check_topology(load_topology(DRIFT_INPUTS / "topology-openapi30.yaml"), pacts)}
    v3_result, v4_result = results["web-catalog-v3.json"], results["web-catalog-v4.json"]
    assert v3_result.verdict == DRIFT
    assert [(f.pointer, f.pact_says, f.spec_says) for _, f in v3_result.findings] == [
        ("/response/body/price", "cheap", "'cheap' is not of type 'number'")]
    assert v4_result.verdict == CLEAN
    assert [(i.verdict, i.reason) for i in v4_result.interactions] == [
        (CLEAN, ""),
        (NOT_APPLICABLE, "a Asynchronous/Messages interaction has no HTTP request to check against OpenAPI")]


def shapes(file: Path) -> list[tuple[str, str, str]]:
    """(classname, name, outcome) of every JUnit case, sorted."""
    cases = ElementTree.parse(file).getroot().iter("testcase")
    return sorted((case.get("classname", ""), case.get("name", ""),
                   next((tag for tag in ("failure", "error", "skipped") if case.find(tag) is not None), "passed"))
                  for case in cases)


def test_one_drift_verdict_has_one_junit_shape_from_both_front_ends(pytester: pytest.Pytester) -> None:
    """`pytest --pact-drift --junitxml` and `harness drift --junit` from the project's folder (pytest's rootdir): the
    same cases, one per interaction (clean: passed, drift: failure, message: skipped) and one per pact that cannot be
    read (error: pytest errors its item at setup, `harness drift` writes an <error>)."""
    pytester.makeini("[pytest]\n")
    shop = pytester.path / "shop"
    (shop / "pacts").mkdir(parents=True)
    for name in ("topology-openapi30.yaml", "catalog-openapi30.yaml"):
        shutil.copy(DRIFT_INPUTS / name, shop / name)
    pact = json.loads((DRIFT_INPUTS / "pacts" / "web-catalog.json").read_text())
    pact["interactions"][1]["response"]["body"]["colour"] = "red"  # the spec has no such property: a drift
    (shop / "pacts" / "web-catalog.json").write_text(json.dumps(pact))
    message = {"consumer": {"name": "web"}, "provider": {"name": "catalog"}, "metadata": {"pactSpecification":
               {"version": "3.0.0"}}, "messages": [{"description": "a price change", "contents": {"id": 10}}]}
    (shop / "pacts" / "web-catalog-messages.json").write_text(json.dumps(message))
    (shop / "pacts" / "broken.json").write_text("{not json")
    topology = shop / "topology-openapi30.yaml"

    result = pytester.runpytest_subprocess("--topology", str(topology), "--pact-drift", "--junitxml=pytest.xml",
                                           "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, failed=1, errors=1, skipped=1)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(pytester.path)
        assert main(["drift", "--topology", str(topology), "--junit", "cli.xml"]) == 2  # an unreadable pact
    classname = "shop.topology-openapi30.yaml"
    expected = sorted([  # two pacts of one pair: the file names tell their cases apart, as for pact items
        (classname, "drift[broken.json]", "error"),
        (classname, "drift[web->catalog web-catalog.json: a new product]", "failure"),
        (classname, "drift[web->catalog web-catalog.json: a request for a missing product]", "passed"),
        (classname, "drift[web->catalog web-catalog.json: a request for product 10]", "passed"),
        (classname, "drift[web->catalog web-catalog-messages.json: a price change]", "skipped")])
    assert shapes(pytester.path / "cli.xml") == shapes(pytester.path / "pytest.xml") == expected
    assert "ERROR shop/topology-openapi30.yaml::drift[broken.json] - " in result.stdout.str()  # one line, no traceback
    assert "Traceback" not in result.stdout.str()
