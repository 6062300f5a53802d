"""What a container's bind mounts held when it was created (harness.runtime.mounted): file by file for a read-only
mount, only the files git tracks for a read-write one in a checkout, nothing for a source the engine will make; and
which files differ since."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from harness.model.service import ServiceSpec
from harness.runtime import labels as L
from harness.runtime.mounted import _differing, mounted_record


def record(service: ServiceSpec, base: Path) -> dict[str, object]:
    return dict(json.loads(mounted_record(service, base)[L.MOUNTED]))


def test_a_read_only_mount_is_recorded_file_by_file_and_a_change_is_named(tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "app.py").write_text("print('v1')\n")
    (tmp_path / "app" / "README").write_text("the app\n")
    service = ServiceSpec.model_validate({"image": "python:3.11-slim", "mounts": ["./app:/app"]})
    then = record(service, tmp_path)
    assert sorted(then["./app"]) == ["README", "app.py"]  # type: ignore[call-overload]
    (tmp_path / "app" / "app.py").write_text("print('v2')\n")
    (tmp_path / "app" / "new.py").write_text("")
    now = record(service, tmp_path)
    assert _differing("./app", then["./app"], now["./app"], tmp_path / "app") == ["app/app.py", "app/new.py"]
    assert _differing("./app", then["./app"], then["./app"], tmp_path / "app") == []
    assert mounted_record(ServiceSpec.model_validate({"image": "redis:7"}), tmp_path) == {}


def test_a_read_write_mount_counts_the_files_git_tracks_and_a_missing_source_holds_nothing(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "config.json").write_text("{}")
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run(["git", "add", "data/config.json"], cwd=tmp_path, check=True)
    (tmp_path / "data" / "service.log").write_text("written by the service\n")
    service = ServiceSpec.model_validate({"image": "python:3.11-slim",
                                          "mounts": ["./data:/data:rw", "./made:/made:rw"]})
    held = record(service, tmp_path)
    assert held == {"./data": {"config.json": held["./data"]["config.json"]},  # type: ignore[index]
                    "./made": {}}


def test_a_mount_from_outside_the_project_is_the_machines_and_is_not_read(tmp_path: Path) -> None:
    """`/proc`, `/` or `/usr/share` for a node exporter, `/etc/localtime`: not the project's code (reading `/` took
    minutes where Compose starts the service in a second); a folder beside the topology's, in its git checkout, is."""
    repo = tmp_path / "repo"
    (repo / "deploy").mkdir(parents=True)
    (repo / "shared").mkdir()
    (repo / "shared" / "seed.json").write_text("{}")
    (tmp_path / "elsewhere").mkdir()
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    service = ServiceSpec.model_validate({"image": "python:3.11-slim", "mounts": [
        "/:/rootfs", "/proc:/host/proc", "/etc/localtime:/etc/localtime", "../shared:/seed", "../../elsewhere:/x"]})
    held = record(service, repo / "deploy")
    assert held["/"] == held["/proc"] == held["/etc/localtime"] == held["../../elsewhere"] == "the machine's"
    assert list(held["../shared"]) == ["seed.json"]  # type: ignore[call-overload]
