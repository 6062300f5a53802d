"""Two sessions on one engine: while one starts and tears down topologies in a loop, the other's `harness ps`,
`harness logs` and attach never fail because an object vanished between a list and a read."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from harness import Topology, load_topology

from ..conftest import harness_resources

HARNESS = str(Path(sys.executable).parent / "harness")
SERVICE = """
name: {name}
services:
  web:
    image: python:3.11-slim
    command: ["python", "-m", "http.server", "8000"]
    ports: [8000]
    ready: {{tcp: 8000}}
  side:
    image: python:3.11-slim
    command: ["python", "-m", "http.server", "8000"]
"""
CHURN = textwrap.dedent("""
    import sys
    from pathlib import Path
    from harness import Topology, load_topology
    spec, stop = load_topology(sys.argv[1]), Path(sys.argv[2])
    while not stop.exists():
        with Topology.start(spec):
            print("up", flush=True)
""")


def test_listing_and_reading_survive_another_session_tearing_down(tmp_path: Path,
                                                                   docker_client) -> None:  # noqa: ANN001
    (tmp_path / "mine").mkdir()
    (tmp_path / "churn").mkdir()
    mine = tmp_path / "mine" / "topology.yaml"
    mine.write_text(SERVICE.format(name="concurrency-mine"))
    churn_file = tmp_path / "churn" / "topology.yaml"
    churn_file.write_text(SERVICE.format(name="concurrency-churn"))
    stop = tmp_path / "stop"
    churn = subprocess.Popen([sys.executable, "-c", CHURN, str(churn_file), str(stop)], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
    kept = Topology.start(load_topology(mine), keep=True)
    outputs = []
    try:
        assert churn.stdout.readline().strip() == "up"  # type: ignore[union-attr]
        commands = (["ps"], ["logs", "web"], ["logs", "web", "--topology", str(mine)])
        for round_ in range(20):
            args = commands[round_ % len(commands)]
            done = subprocess.run([HARNESS, *args], capture_output=True, text=True, timeout=120)
            outputs.append((args, done.returncode, done.stdout + done.stderr))
            attached = Topology.attach(load_topology(mine))
            assert attached is not None and attached.run_id == kept.run_id
    finally:
        stop.touch()
        churn_output = churn.communicate(timeout=120)[0]
        kept.close()
    assert churn.returncode == 0, churn_output[-2000:]
    for args, code, text in outputs:
        assert "Traceback" not in text and "NotFound" not in text, (args, text)
        if args[-1] == str(mine) or args == ["ps"]:
            assert code == 0, (args, text)
        else:  # several topologies run a service 'web', or the other one's vanished: a clear error either way
            assert code in (0, 2), (args, text)
    assert harness_resources(docker_client, "concurrency-mine") == []
    assert harness_resources(docker_client, "concurrency-churn") == []
