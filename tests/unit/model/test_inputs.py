"""The host files a topology reads for its services (model/inputs.py): one list from what the loader read (a compose
file's: every file Docker Compose reads with it) and what each service takes from the host; what decides whether a
git checkout's commit names what the providers run."""

from __future__ import annotations

from pathlib import Path

from harness.model.inputs import host_inputs
from harness.model.loader import load_topology


def listed(file: Path, services: list[str] | None = None) -> list[tuple[str, str, str]]:
    return [(i.kind, i.service, i.remote or i.path.relative_to(file.parent).as_posix())
            for i in host_inputs(load_topology(file), services)]


def test_a_topology_files_services_read_their_env_files_build_and_mounts(tmp_path: Path) -> None:
    for folder in ("shop", "data", "extra"):
        (tmp_path / folder).mkdir()
    (tmp_path / "shop" / "Dockerfile").write_text("FROM python:3.11-slim\n")
    (tmp_path / "shop.env").write_text("A=1\n")
    (tmp_path / "token.txt").write_text("t\n")
    file = tmp_path / "topology.yaml"
    file.write_text("""
name: inputs
services:
  shop:
    build:
      context: ./shop
      secrets: [{source: token, file: ./token.txt}]
      additional_contexts: {extra: ./extra, base: "docker-image://python:3.11-slim"}
    env_file: shop.env
    mounts: ["./data:/data"]
  cache: {image: redis:7}
  remote: {build: "https://example.com/repo.git#main"}
""")
    assert listed(file) == [
        ("topology", "", "topology.yaml"), ("env_file", "shop", "shop.env"), ("build context", "shop", "shop"),
        ("dockerfile", "shop", "shop/Dockerfile"), ("build secret", "shop", "token.txt"),
        ("additional context", "shop", "extra"), ("mount", "shop", "data"),
        ("build context", "remote", "https://example.com/repo.git#main")]
    assert listed(file, ["cache"]) == [("topology", "", "topology.yaml")]  # an image only: no file of its own


def test_a_compose_files_inputs_are_every_file_compose_reads_with_it(tmp_path: Path) -> None:
    (tmp_path / "shop").mkdir()
    (tmp_path / "shop" / "Dockerfile").write_text("FROM python:3.11-slim\n")
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "prices.json").write_text("{}\n")
    (tmp_path / "ledger.env").write_text("BALANCE=1\n")
    (tmp_path / "common.yaml").write_text("services:\n  base:\n    environment: {CURRENCY: EUR}\n")
    file = tmp_path / "compose.yaml"
    file.write_text("""
services:
  shop:
    extends: {file: common.yaml, service: base}
    build: ./shop
    env_file: ledger.env
    environment: {BALANCE: "${BALANCE:-0}"}
    configs: [{source: prices, target: /data/prices.json}]
configs:
  prices: {file: ./conf/prices.json}
""")
    inputs = listed(file)
    topology = [path for kind, _, path in inputs if kind == "topology"]
    # .env is read by Compose when it is there (one made later counts too)
    assert topology == ["compose.yaml", ".env", "ledger.env", "conf/prices.json", "common.yaml"]
    assert ("mount", "shop", "conf/prices.json") not in inputs  # listed once
    assert ("build context", "shop", "shop") in inputs and ("dockerfile", "shop", "shop/Dockerfile") in inputs
