"""A kept run is reused only when every service's signature is the same; a restart message names what changed."""

from __future__ import annotations

from pathlib import Path

from harness import load_topology
from harness.runtime.topology import SIGNATURE_PARTS, service_signature, signature_changes

WEB = """name: sig
services:
  web:
    image: python:3.11-slim
    ports: [PORT]
    environment: {MODE: MODE_VALUE}
    env_file: [web.env]
"""


def signature(tmp_path: Path, port: str = "8000", mode: str = "a", env: str = "X=1\n", image: str = "sha256:1") -> str:
    (tmp_path / "web.env").write_text(env)
    file = tmp_path / "topology.yaml"
    file.write_text(WEB.replace("PORT", port).replace("MODE_VALUE", mode))
    spec = load_topology(file)
    return service_signature(spec.services["web"], image, spec.base_dir)


def test_each_part_names_itself(tmp_path: Path) -> None:
    base = signature(tmp_path)
    assert signature(tmp_path) == base
    assert signature_changes(base, signature(tmp_path, port="8001")) == ["configuration"]
    assert signature_changes(base, signature(tmp_path, mode="b")) == ["environment"]
    assert signature_changes(base, signature(tmp_path, env="X=2\n")) == ["environment"]  # an env file read now
    assert signature_changes(base, signature(tmp_path, image="sha256:2")) == ["image"]
    assert signature_changes(base, signature(tmp_path, port="8001", image="sha256:2")) == ["configuration", "image"]


def test_a_signature_of_an_older_harness_is_said_to_be_one() -> None:
    assert signature_changes("0123456789abcdef", ".".join(["a"] * len(SIGNATURE_PARTS))) is None
