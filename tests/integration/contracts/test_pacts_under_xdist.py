"""Consumer tests under pytest-xdist write the pacts a serial session writes: every worker merges its tests' pacts
into one folder of the controller (the pact FFI's own merge, `write_file(overwrite=False)`, under its file lock), and
the controller writes them out once, the same bytes on every run, and publishes them; when a worker's part is
missing it publishes nothing."""

from __future__ import annotations

import hashlib
from pathlib import Path

from tests.broker.server import BrokerServer

from .test_broker_publish import consumer_tests

# three test modules, two of them writing the same pair: xdist spreads their tests over the workers
MODULES = {
    f"test_{name}.py": "import os\nimport requests\n\n" + "\n".join(f"""
def test_{name}_{n}(pact):
    p = pact("web", "{provider}")
    asked = p.upon_receiving("{name} asks for item {n}").given("item {n} exists")
    asked.with_request("GET", "/{name}/{n}").will_respond_with(200)
    with p.serve(addr="127.0.0.1") as server:
        assert requests.get(f"{{server.url}}/{name}/{n}").status_code == 200
    if os.environ.get("CRASH") == "{name}_{n}":
        os._exit(1)
""" for n in range(4)) for name, provider in (("orders", "orders"), ("cart", "orders"), ("bill", "billing"))}


def write_tests(folder: Path) -> None:
    for name, text in MODULES.items():
        (folder / name).write_text(text)


def pacts(folder: Path) -> dict[str, str]:
    return {path.name: hashlib.sha1(path.read_bytes()).hexdigest() for path in sorted(folder.glob("*.json"))}


def test_under_xdist_the_pacts_are_a_serial_sessions_bytes_on_every_run(tmp_path: Path, broker: BrokerServer) -> None:
    write_tests(tmp_path)
    serial = consumer_tests(tmp_path, broker, cwd=tmp_path)
    assert serial.returncode == 0, serial.stdout + serial.stderr
    expected = pacts(tmp_path / "pacts")
    assert sorted(expected) == ["web-billing.json", "web-orders.json"]
    runs = []
    for run in range(3):
        (tmp_path / "pacts").rename(tmp_path / f"pacts-{run}")  # nothing left for a run to merge into
        done = consumer_tests(tmp_path, broker, "-n", "2", "--pact-publish", "--pact-consumer-version", f"1.{run}",
                              cwd=tmp_path)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "12 passed" in done.stdout
        assert done.stdout.count("pacts published to the Pact Broker") == 1
        runs.append(pacts(tmp_path / "pacts"))
    assert runs == [expected] * 3
    orders = (tmp_path / "pacts" / "web-orders.json").read_text()
    assert all(f"{name} asks for item {n}" in orders for name in ("orders", "cart") for n in range(4))
    published = {(p.consumer, p.provider, p.consumer_version): p.sha for p in broker.broker.pacts.values()}
    assert {key for key in published if key[2] == "1.2"} == {("web", "orders", "1.2"), ("web", "billing", "1.2")}
    assert published[("web", "orders", "1.0")] == published[("web", "orders", "1.2")]


def test_a_worker_that_ends_without_its_part_publishes_nothing(tmp_path: Path, broker: BrokerServer) -> None:
    write_tests(tmp_path)
    done = consumer_tests(tmp_path, broker, "-n", "2", "--pact-publish", "--pact-consumer-version", "2.0",
                          "--max-worker-restart", "0", cwd=tmp_path, CRASH="cart_1")
    assert done.returncode != 0, done.stdout + done.stderr
    assert "error: pacts not published to the Pact Broker: xdist worker gw" in done.stdout
    assert "ended without saying its tests' pacts were written" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr
    assert broker.broker.published == [] and broker.broker.pacts == {}
