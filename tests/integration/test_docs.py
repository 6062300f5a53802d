"""The docs' python blocks marked `<!-- doc-test: docker -->` run against the real engine, and leave nothing behind
(tests/unit/test_docs.py runs the others and says how blocks are marked)."""

from __future__ import annotations

import re

import pytest

import harness
from tests.integration.conftest import harness_resources
from tests.unit.test_docs import ROOT, of


@pytest.mark.parametrize("block", of("docker"), ids=str)
def test_docker_blocks_run_and_leave_nothing(block, tmp_path, monkeypatch, docker_client):
    monkeypatch.chdir(tmp_path)
    exec(compile(block.body, str(block), "exec"), {"__name__": "docs_block", "__file__": str(tmp_path / "conftest.py")})
    for name in re.findall(r'topology\("([\w-]+)"', block.body):
        assert harness_resources(docker_client, name, tmp_path / f"{name}.py-topology") == []


@pytest.mark.parametrize("block", [b for b in of("run", "python") if b.option("topology")], ids=str)
def test_test_blocks_pass_against_their_topology(block, tmp_path, docker_client):
    """A block of tests that names its topology (`<!-- doc-test: run; topology: FILE -->`) passes under pytest."""
    import subprocess
    import sys

    (tmp_path / "test_doc_block.py").write_text(block.body)
    run = subprocess.run([sys.executable, "-m", "pytest", "--topology", str(ROOT / block.option("topology")),
                          "-p", "no:cacheprovider", "-p", "no:schemathesis", "-p", "no:hypothesispytest"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    assert re.search(r"\b[1-9]\d* passed", run.stdout) and "failed" not in run.stdout
    file = ROOT / block.option("topology")
    assert harness_resources(docker_client, harness.load_topology(file).name, file) == []


def test_there_are_docker_blocks_but_few():
    assert 1 <= len(of("docker")) <= 5


def test_getting_started_runs_as_written(tmp_path, docker_client):
    """The first topology and the first test of the getting-started page, saved as it says, pass under `pytest
    --topology topology.yaml`, and the session leaves nothing behind."""
    import subprocess
    import sys

    page = [b for b in of("run") if b.page == "docs/getting-started.md"]
    topology = next(b for b in page if b.lang == "yaml")
    test = next(b for b in page if b.lang == "python")
    (tmp_path / "topology.yaml").write_text(topology.body)
    (tmp_path / "test_redis.py").write_text(test.body)
    run = subprocess.run([sys.executable, "-m", "pytest", "--topology", "topology.yaml", "-p", "no:cacheprovider",
                          "-p", "no:schemathesis", "-p", "no:hypothesispytest"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 passed" in run.stdout
    assert harness_resources(docker_client, "first", tmp_path / "topology.yaml") == []
