"""Where a service asks the engine for devices of a driver (a GPU), for the error when the engine has no such driver
(model/engine_needs.py: device_request_keys)."""

from __future__ import annotations

from pathlib import Path

from harness.model.engine_needs import device_request_keys

COMPOSE = """\
services:
  web:
    image: app
  trainer:
    image: trainer
    gpus: all
    deploy:
      resources:
        reservations:
          devices:
            - capabilities: [gpu]
"""


def test_each_key_that_reserves_devices_is_found_at_its_line_in_file_order(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text(COMPOSE)
    assert device_request_keys((tmp_path / "compose.yaml",), "trainer", "shop") == [
        ("compose.yaml:6", "gpus"), ("compose.yaml:10", "deploy.resources.reservations.devices")]


def test_a_key_of_an_override_file_is_found_in_that_file(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text(COMPOSE.split("    gpus")[0])
    (tmp_path / "compose.gpu.yaml").write_text("services:\n  trainer:\n    gpus: all\n")
    files = (tmp_path / "compose.yaml", tmp_path / "compose.gpu.yaml")
    assert device_request_keys(files, "trainer", "shop") == [("compose.gpu.yaml:3", "gpus")]


def test_a_key_the_files_do_not_show_is_at_the_service_and_a_topology_built_in_python_at_its_name(
        tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text("services:\n  trainer:\n    extends: {file: base.yaml, service: t}\n")
    assert device_request_keys((tmp_path / "compose.yaml",), "trainer", "shop") == [
        ("compose.yaml:2", "deploy.resources.reservations.devices or gpus")]
    assert device_request_keys((), "trainer", "shop") == [("topology 'shop'", "device_requests")]
