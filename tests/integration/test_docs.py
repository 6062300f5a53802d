"""The docs' python blocks marked `<!-- doc-test: docker -->` run against the real engine, and leave nothing behind
(tests/unit/test_docs.py runs the others and says how blocks are marked)."""

from __future__ import annotations

import re

import pytest

from tests.integration.conftest import harness_resources
from tests.unit.test_docs import of


@pytest.mark.parametrize("block", of("docker"), ids=str)
def test_docker_blocks_run_and_leave_nothing(block, tmp_path, monkeypatch, docker_client):
    monkeypatch.chdir(tmp_path)
    exec(compile(block.body, str(block), "exec"), {"__name__": "docs_block", "__file__": str(tmp_path / "conftest.py")})
    for name in re.findall(r'topology\("([\w-]+)"', block.body):
        assert harness_resources(docker_client, name, tmp_path / f"{name}.py-topology") == []


def test_there_are_docker_blocks_but_few():
    assert 1 <= len(of("docker")) <= 5
