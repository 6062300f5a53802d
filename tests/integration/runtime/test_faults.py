"""Faults per edge against the real engine: relay -> greeter slowed, lossy or cut while relay -> redis and
greeter -> relay keep working; helpers found by label after every exit.

Latencies are measured inside the consumer's network namespace (TCP connects from the relay container, many
samples): a connect takes one round trip, so it takes the asked delay. Bounds are load-proof: a delayed edge cannot
be faster than its delay (lower bounds), an undelayed local connect is far below it.
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import docker
import pytest

import harness.pytest
from harness import Topology, UnknownService, ready, topology
from harness.errors import InvalidFault
from harness.runtime import labels as L
from harness.runtime.fault_helper import HELPER_OF

from ..conftest import EXAMPLE_APP, write_topology

HARNESS = Path(sys.executable).parent / "harness"

edges = harness.pytest.topology_fixture(
    topology("faults-edges", base_dir=EXAMPLE_APP)
    .service("redis", image="redis:7", ports=[6379], ready=ready.log("Ready to accept connections"))
    .service("greeter", build=".", command="python app.py greeter", ports=[8000], ready=ready.http(8000, "/health"))
    .service("relay", build=".", command="python app.py relay", environment={"GREETER_URL": "http://greeter:8000"},
             ports=[8000], ready=ready.http(8000, "/health")),
    scope="module")

CONNECT = """
import json, socket, sys, time
host, port, samples, timeout = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
times = []
for _ in range(samples):
    started = time.monotonic()
    try:
        socket.create_connection((host, port), timeout=timeout).close()
        times.append(time.monotonic() - started)
    except OSError as error:
        times.append(type(error).__name__)
print(json.dumps(times))
"""


def connects(topology: Topology, consumer: str, provider: str, port: int, samples: int = 10,
             timeout: float = 10.0) -> list:
    """TCP connect times (seconds) from inside `consumer` to `provider`, or the error's name for each failure."""
    result = topology[consumer].exec(["python", "-c", CONNECT, provider, str(port), str(samples), str(timeout)])
    assert result.exit_code == 0, result.output
    return json.loads(result.output.strip().splitlines()[-1])


def median_ms(times: list) -> float:
    assert all(isinstance(t, float) for t in times), times
    return statistics.median(times) * 1000


def helpers(client: docker.DockerClient, topology: Topology) -> list[str]:
    return [c.name for c in client.containers.list(all=True, filters={"label": [f"{L.RUN}={topology.run_id}",
                                                                                HELPER_OF]})]


@pytest.mark.parametrize("asked", [300, 1000])
def test_a_delay_slows_that_edge_by_what_was_asked_and_nothing_else(edges: Topology, asked: int,
                                                                    docker_client) -> None:  # noqa: ANN001
    before = median_ms(connects(edges, "relay", "greeter", 8000))
    with edges.edge("relay", "greeter").delay(ms=asked):
        delayed = connects(edges, "relay", "greeter", 8000, samples=20 if asked < 1000 else 8)
        other = median_ms(connects(edges, "relay", "redis", 6379))
        back = median_ms(connects(edges, "greeter", "relay", 8000))  # greeter's own calls are not relay's edge
        assert len(helpers(docker_client, edges)) == 1
    after = median_ms(connects(edges, "relay", "greeter", 8000))
    print(f"\nasked {asked} ms: relay->greeter median {median_ms(delayed):.1f} ms (min {min(delayed) * 1000:.1f}, "
          f"max {max(delayed) * 1000:.1f}; {median_ms(delayed) / asked - 1:+.1%}); before {before:.2f} ms, "
          f"after {after:.2f} ms; relay->redis {other:.2f} ms; greeter->relay {back:.2f} ms")
    assert median_ms(delayed) >= 0.8 * asked
    assert min(delayed) * 1000 < 2 * asked  # not a multiple of it (a packet held twice)
    assert other < asked / 2 and back < asked / 2 and after < asked / 2
    assert helpers(docker_client, edges) == []


def test_jitter_spreads_the_delay_around_what_was_asked(edges: Topology) -> None:
    with edges.edge("relay", "greeter").delay(ms=300, jitter_ms=100):
        times = [t * 1000 for t in connects(edges, "relay", "greeter", 8000, samples=30)]
    print(f"\nasked 300 ± 100 ms: median {statistics.median(times):.1f} ms, min {min(times):.1f}, max {max(times):.1f}")
    assert min(times) >= 0.8 * 200
    assert max(times) - min(times) >= 50  # 30 samples of a 200 ms wide spread are not all within 50 ms


def test_loss_drops_about_that_share_and_100_percent_everything(edges: Topology) -> None:
    with edges.edge("relay", "greeter").loss(percent=30):
        # a lost SYN is sent again after 1 s, so a 0.5 s connect timeout counts each first-packet loss
        times = connects(edges, "relay", "greeter", 8000, samples=60, timeout=0.5)
    lost = sum(1 for t in times if not isinstance(t, float))
    print(f"\nasked 30% loss: {lost} of 60 connects lost ({lost / 60:.0%})")
    assert 6 <= lost <= 36  # binomial(60, 0.3): 18 ± 3.5; bounds beyond 3 sigma
    with edges.edge("relay", "greeter").loss(percent=100):
        assert connects(edges, "relay", "greeter", 8000, samples=2, timeout=1.5) == ["TimeoutError"] * 2
        assert all(isinstance(t, float) for t in connects(edges, "relay", "redis", 6379, samples=3))


def test_a_cut_refuses_at_once_or_drops_and_leaves_the_other_direction(edges: Topology) -> None:
    with edges.edge("relay", "greeter").cut():
        assert connects(edges, "relay", "greeter", 8000, samples=2) == ["ConnectionRefusedError"] * 2
        assert all(isinstance(t, float) for t in connects(edges, "greeter", "relay", 8000, samples=2))
        answer = edges["relay"].exec(["python", "-c", "import urllib.request; urllib.request.urlopen("
                                      "'http://127.0.0.1:8000/relay')"])
        assert "502" in answer.output  # the relay itself answers, with its own error for the cut edge
    with edges.edge("relay", "greeter").cut(mode="drop"):
        assert connects(edges, "relay", "greeter", 8000, samples=1, timeout=1.5) == ["TimeoutError"]
    assert all(isinstance(t, float) for t in connects(edges, "relay", "greeter", 8000, samples=2))


def test_a_service_wide_fault_slows_everything_the_service_calls(edges: Topology) -> None:
    with edges["relay"].faults.delay(ms=300) as fault:
        assert fault.fault.describe() == "relay -> (everything it calls): delay 300 ms"
        assert median_ms(connects(edges, "relay", "greeter", 8000, samples=4)) >= 240
        assert median_ms(connects(edges, "relay", "redis", 6379, samples=4)) >= 240
        assert median_ms(connects(edges, "greeter", "relay", 8000, samples=4)) < 150  # not greeter's calls


def _address(topology: Topology, name: str) -> str:
    container = topology[name].container
    container.reload()
    return container.attrs["NetworkSettings"]["Networks"][topology.network]["IPAddress"]


def test_a_fault_follows_its_provider_to_a_new_address_and_its_consumer_through_a_restart(
        edges: Topology, docker_client) -> None:  # noqa: ANN001
    with edges.edge("relay", "greeter").delay(ms=300):
        old = _address(edges, "greeter")
        edges["greeter"].disconnect()
        # Docker gives the lowest free address: a placeholder (labelled like the run, so cleanup finds it) takes it
        labels = {k: v for k, v in edges["greeter"].container.labels.items() if k != L.SERVICE}
        placeholder = docker_client.containers.run("redis:7", detach=True, network=edges.network, labels=labels)
        try:
            edges["greeter"].connect()
            assert _address(edges, "greeter") != old
            assert median_ms(connects(edges, "relay", "greeter", 8000, samples=4)) >= 240
        finally:
            placeholder.remove(force=True)
        assert median_ms(connects(edges, "relay", "greeter", 8000, samples=4)) >= 240
        docker_client.containers.get(edges["greeter"].container.id).restart(timeout=0)  # behind the harness's back
        restarted, times = time.monotonic(), connects(edges, "relay", "greeter", 8000, samples=4)
        # until the helper, which looks names up every 0.5 s, has seen the restart (not a time budget)
        while not (all(isinstance(t, float) for t in times) and median_ms(times) >= 240) \
                and time.monotonic() - restarted < 120:
            times = connects(edges, "relay", "greeter", 8000, samples=4)
        assert median_ms(times) >= 240
        edges["relay"].restart()  # a new network namespace: the fault moves with it
        assert median_ms(connects(edges, "relay", "greeter", 8000, samples=4)) >= 240
        assert len(helpers(docker_client, edges)) == 1
    assert median_ms(connects(edges, "relay", "greeter", 8000, samples=4)) < 150
    assert helpers(docker_client, edges) == []


RESOLVE = """
import socket, sys
try:
    print(socket.gethostbyname(sys.argv[1]))
except OSError as error:
    print(type(error).__name__)
"""


def test_a_fault_is_in_place_when_its_block_starts_even_if_the_providers_name_does_not_resolve(
        edges: Topology, docker_client) -> None:  # noqa: ANN001
    # greeter back on the network without its service name: running, with an address, but "greeter" resolves to
    # nothing in relay, as when Docker's DNS does not answer in time under load
    edges["greeter"].disconnect()
    try:
        docker_client.networks.get(edges.network).connect(edges["greeter"].container)
        address = _address(edges, "greeter")
        looked_up = edges["relay"].exec(["python", "-c", RESOLVE, "greeter"]).output.strip()
        assert looked_up == "gaierror", looked_up
        with edges.edge("relay", "greeter").delay(ms=300):
            delayed = connects(edges, "relay", address, 8000, samples=4)
        print(f"\ngreeter unresolvable: relay -> {address} with a 300 ms delay: {[round(t, 3) for t in delayed]}")
        assert min(delayed) >= 0.24  # the first connect too: the rule was there when the block started
    finally:
        docker_client.networks.get(edges.network).disconnect(edges["greeter"].container)
        edges["greeter"].connect()
    assert median_ms(connects(edges, "relay", "greeter", 8000, samples=2)) < 150


def test_a_block_that_raises_still_removes_its_fault_and_helper(edges: Topology, docker_client) -> None:  # noqa: ANN001
    with pytest.raises(RuntimeError), edges.edge("relay", "greeter").cut():
        assert len(helpers(docker_client, edges)) == 1
        raise RuntimeError("the test failed")
    assert helpers(docker_client, edges) == []
    assert edges.faults.active() == []
    assert all(isinstance(t, float) for t in connects(edges, "relay", "greeter", 8000, samples=2))
    fault = edges.edge("relay", "greeter").delay(ms=100)  # without a block: until remove() (or the topology's end)
    assert edges.faults.active() == [fault.fault]
    fault.remove()
    fault.remove()  # twice is fine
    assert helpers(docker_client, edges) == []


def test_unknown_services_and_self_edges_are_clear_errors(edges: Topology) -> None:
    with pytest.raises(UnknownService) as unknown:
        edges.edge("relya", "greeter")
    assert str(unknown.value) == ("no service 'relya' in topology 'faults-edges' (did you mean 'relay'?); "
                                  "services: redis, greeter, relay")
    with pytest.raises(UnknownService, match="did you mean 'greeter'"):
        edges.edge("relay", "greter")
    with pytest.raises(InvalidFault) as same:
        edges.edge("relay", "relay")
    assert str(same.value) == ("fault on relay -> relay: an edge needs two different services (for everything relay "
                               "calls: topology['relay'].faults)")


TOPOLOGY = """\
name: faults-cli
services:
  greeter:
    build: EXAMPLE_APP
    command: python app.py greeter
    ports: [8000]
    ready: {http: {port: 8000, path: /health}}
  relay:
    build: EXAMPLE_APP
    command: python app.py relay
    environment: {GREETER_URL: "http://greeter:8000"}
    ports: [8000]
    ready: {http: {port: 8000, path: /health}}
"""


def test_the_marker_puts_the_fault_around_the_test_and_a_failing_report_names_it(
        pytester: pytest.Pytester, tmp_path: Path, docker_client) -> None:  # noqa: ANN001
    file = write_topology(tmp_path, TOPOLOGY.replace("faults-cli", "faults-marker"))
    pytester.makepyfile(textwrap.dedent("""
        import json, time, pytest

        def relay_to_greeter_ms(topology):
            # the median of 5 connects: one connect on a loaded machine may be slow without any fault
            code = ("import socket,statistics,time\\nts=[]\\nfor _ in range(5):\\n t=time.monotonic(); "
                    "socket.create_connection(('greeter', 8000)).close(); ts.append(time.monotonic()-t)\\n"
                    "print(statistics.median(ts))")
            return float(topology["relay"].exec(["python", "-c", code]).output) * 1000

        @pytest.mark.edge_fault("relay", "greeter", delay_ms=400)
        def test_slow(topology):
            assert relay_to_greeter_ms(topology) >= 320

        def test_fast_again(topology):
            assert relay_to_greeter_ms(topology) < 200

        @pytest.mark.edge_fault("relay", "greeter", cut="reject")
        @pytest.mark.edge_fault("relay", None, loss_percent=5)
        def test_fails_while_cut(topology):
            assert False, "failing on purpose"

        @pytest.mark.edge_fault("relay", "greter", delay_ms=100)
        def test_typo(topology):
            pass

        @pytest.mark.edge_fault("relay", "greeter", delay=100)
        def test_bad_option(topology):
            pass
    """))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--strict-markers", "--topology", str(file))
    result.assert_outcomes(passed=2, failed=3)
    output = result.stdout.str()
    assert "Faults active during the test (call)" in output
    assert "relay -> greeter: cut (connections refused)  (from " in output
    assert "relay -> (everything it calls): loss 5%  (from " in output
    assert ("@pytest.mark.edge_fault('relay', 'greter', delay_ms=100): no service 'greter' in topology "
            "'faults-marker' (did you mean 'greeter'?)") in output
    assert ("@pytest.mark.edge_fault('relay', 'greeter', delay=100): expected two service names (consumer, provider "
            "or None) and at least one of delay_ms=, loss_percent=, cut=; unknown: delay") in output
    assert "Traceback" not in output
    assert docker_client.containers.list(all=True, filters={"label": [f"{L.TOPOLOGY}=faults-marker"]}) == []


def _harness(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(HARNESS), *args], capture_output=True, text=True, timeout=180)


def test_harness_fault_on_a_detached_topology_until_clear(tmp_path: Path, docker_client) -> None:  # noqa: ANN001
    file = write_topology(tmp_path, TOPOLOGY)
    not_running = _harness("fault", "--topology", str(file), "relay", "greeter", "--delay", "300")
    assert not_running.returncode == 2
    assert not_running.stderr == (f"error: topology faults-cli is not running; start it with `harness up --detach "
                                  f"--topology {file}` first\n")
    assert _harness("up", "-f", str(file), "--detach").returncode == 0
    try:
        added = _harness("fault", str(file), "relay", "greeter", "--delay", "300")  # the older form: a bare file
        assert added.returncode == 0, added.stderr
        assert "added:\n  relay -> greeter: delay 300 ms\n" in added.stdout
        assert added.stderr == (f"note: the topology file is an option on every command: harness fault --topology "
                                f"{file} relay greeter (a bare file is read the same)\n")
        cut = _harness("fault", "-f", str(file), "relay", "--cut", "drop")  # a second process adds to the first's
        assert cut.returncode == 0, cut.stderr
        assert ("  relay -> greeter: delay 300 ms\n  relay -> (everything it calls): cut (packets dropped)\n"
                in cut.stdout)
        assert "(faults of relay)" in _harness("ps").stdout
        listed = _harness("fault", str(file))
        assert listed.stdout.count("relay -> ") == 2
        bad = _harness("fault", str(file), "relay", "greeter")
        assert bad.returncode == 2 and "say which fault to put on relay's calls" in bad.stderr
        typo = _harness("fault", str(file), "relay", "greter", "--loss", "10")
        assert typo.returncode == 2 and "(did you mean 'greeter'?)" in typo.stderr
        cleared = _harness("fault", str(file), "--clear")
        assert cleared.returncode == 0 and cleared.stdout.count("relay -> ") == 2
        assert docker_client.containers.list(all=True, filters={"label": [f"{L.TOPOLOGY}=faults-cli", HELPER_OF]}) \
            == []
        assert "  (none)" in _harness("fault", str(file)).stdout
    finally:
        _harness("down", str(file))


def test_a_killed_process_leaves_a_helper_that_the_next_start_removes(tmp_path: Path,
                                                                        docker_client) -> None:  # noqa: ANN001
    file = write_topology(tmp_path, TOPOLOGY.replace("faults-cli", "faults-crash"))
    script = tmp_path / "crash.py"
    script.write_text(textwrap.dedent(f"""
        import time
        from harness import Topology, load_topology
        topology = Topology.start(load_topology({str(file)!r}))
        topology.edge("relay", "greeter").delay(ms=200)
        print("faulted", flush=True)
        time.sleep(120)
    """))
    process = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == "faulted"
        label = {"label": [f"{L.TOPOLOGY}=faults-crash", HELPER_OF]}
        assert len(docker_client.containers.list(all=True, filters=label)) == 1
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    L.remove_leftovers(docker_client)  # what the next start does first
    assert docker_client.containers.list(all=True, filters={"label": f"{L.TOPOLOGY}=faults-crash"}) == []
