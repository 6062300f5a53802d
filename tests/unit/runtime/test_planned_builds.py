"""One build per distinct build of a topology: services that share a context, Dockerfile, target and args share one
image, built once, tagged with every `image:` name they give."""

from __future__ import annotations

from pathlib import Path

from harness import load_topology
from harness.runtime.images import planned_builds


def builds(tmp_path: Path, services: str) -> list[tuple[str, tuple[str, ...], tuple[str, ...]]]:
    for folder in ["orders", "app", "api"]:  # the validation checks that each context is a folder
        (tmp_path / folder).mkdir(exist_ok=True)
    for dockerfile in ["Dockerfile", "app/Dockerfile", "app/Dockerfile.dev", "api/Dockerfile", "orders/Dockerfile"]:
        (tmp_path / dockerfile).write_text("FROM python:3.11-slim\n")
    file = tmp_path / "topology.yaml"
    file.write_text(f"name: builds\nservices:\n{services}")
    return [(str(b.context.relative_to(tmp_path)), b.services, b.names) for b in planned_builds(load_topology(file))]


def test_a_job_and_the_app_on_one_context_are_one_build_tagged_with_the_apps_name(tmp_path: Path) -> None:
    assert builds(tmp_path, """
  migrate: {build: ./orders, command: [migrate], job: true}
  orders: {build: orders, image: "shop/orders:dev"}
""") == [("orders", ("migrate", "orders"), ("shop/orders:dev",))]


def test_one_context_feeding_four_services_with_their_own_names_is_one_build(tmp_path: Path) -> None:
    services = "".join(f"  {name}: {{build: {{context: ., dockerfile: ./Dockerfile}}, image: app-{name}}}\n"
                       for name in ["django", "celeryworker", "celerybeat", "flower"])
    assert builds(tmp_path, services) == [
        (".", ("django", "celeryworker", "celerybeat", "flower"),
         ("app-django", "app-celeryworker", "app-celerybeat", "app-flower"))]


def test_a_name_given_twice_is_tagged_once(tmp_path: Path) -> None:
    assert builds(tmp_path, """
  web: {build: app, image: "shop/app:dev"}
  worker: {build: app/, image: "shop/app:dev"}
""") == [("app", ("web", "worker"), ("shop/app:dev",))]


def test_another_target_args_dockerfile_or_context_is_another_build(tmp_path: Path) -> None:
    assert builds(tmp_path, """
  base: {build: app}
  test: {build: {context: app, target: test}}
  arg: {build: {context: app, args: {MODE: x}}}
  arg2: {build: {context: app, args: {MODE: x}}}
  other_file: {build: {context: app, dockerfile: Dockerfile.dev}}
  other_context: {build: api}
  runs_it: {image: "python:3.11-slim"}
""") == [("app", ("base",), ()), ("app", ("test",), ()), ("app", ("arg", "arg2"), ()),
         ("app", ("other_file",), ()), ("api", ("other_context",), ())]


def test_build_tags_name_the_image_and_another_setting_is_another_build(tmp_path: Path) -> None:
    assert builds(tmp_path, """
  web: {build: {context: app, tags: ["shop/app:extra"]}, image: "shop/app:dev"}
  worker: {build: {context: app, tags: ["shop/app:extra"]}}
  labelled: {build: {context: app, labels: {team: shop}}}
  inline: {build: {context: app, dockerfile_inline: "FROM python:3.11-slim\\n"}}
""") == [("app", ("web", "worker"), ("shop/app:dev", "shop/app:extra")), ("app", ("labelled",), ()),
         ("app", ("inline",), ())]


def test_relative_secret_files_and_context_folders_become_absolute(tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "Dockerfile").write_text("FROM python:3.11-slim\n")
    file = tmp_path / "topology.yaml"
    file.write_text("name: builds\nservices:\n  web:\n    build:\n      context: app\n      secrets: [{source: token, "
                    "file: token.txt}]\n      additional_contexts: {extra: ./extra, base: 'docker-image://alpine'}\n")
    [build] = planned_builds(load_topology(file))
    assert build.build.secrets[0].file == str(tmp_path / "token.txt")
    assert build.build.additional_contexts == {"extra": str(tmp_path / "extra"), "base": "docker-image://alpine"}
    assert build.project_dir == tmp_path
