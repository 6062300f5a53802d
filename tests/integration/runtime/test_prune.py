"""Built images do not pile up: the newest few per build context stay, older unused ones go (after a start that built
one, and with `harness prune`), untagged ones too; never one a container uses, nor one of a context a session is
building or starting from. Substitute aliases nobody uses go too. Only images this test created are touched."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from harness.model.parts import BuildSpec
from harness.runtime import labels as L
from harness.runtime.imagelocks import using_contexts
from harness.runtime.images import build_image, tidy
from harness.runtime.prune import BUILT, prune_images

HARNESS = str(Path(sys.executable).parent / "harness")


def tags_of(client, context: Path) -> set[str]:  # noqa: ANN001
    images = client.api.images(filters={"label": f"{L.CONTEXT}={context.resolve()}"})
    return {tag for image in images for tag in image.get("RepoTags") or [] if tag != "<none>:<none>"}


def ids_of(client, context: Path) -> set[str]:  # noqa: ANN001 - every image of the context, untagged ones too
    return {image["Id"] for image in client.api.images(filters={"label": f"{L.CONTEXT}={context.resolve()}"})}


def build_as_an_older_harness(client, context: Path, tag: str) -> str:  # noqa: ANN001
    """Build `context` as `tag` without the harness's locks (as two builds of one tag at once did): the image id."""
    for _ in client.api.build(path=str(context), tag=tag, rm=True, forcerm=True, decode=True,
                              labels={L.CONTEXT: str(context.resolve()), BUILT: str(time.time_ns())}):
        pass
    return client.images.get(tag).id


def build_version(client, context: Path, version: int) -> str:  # noqa: ANN001
    (context / "version.txt").write_text(f"{version}\n")
    tag, built = build_image(client, context, BuildSpec(context="."), service="app")
    assert built
    return tag


@pytest.fixture
def context(tmp_path: Path, docker_client, monkeypatch: pytest.MonkeyPatch):  # noqa: ANN001, ANN201
    monkeypatch.setenv("PYTEST_TOPOLOGY_CACHE", str(tmp_path / "cache"))
    folder = tmp_path / f"prune-{uuid.uuid4().hex[:6]}"
    folder.mkdir()
    (folder / "Dockerfile").write_text("FROM python:3.11-slim\nCOPY version.txt /version.txt\n")
    yield folder
    for image in ids_of(docker_client, folder):
        docker_client.api.remove_image(image, force=True)


def test_a_build_keeps_the_newest_three_of_its_context(context: Path, docker_client) -> None:  # noqa: ANN001
    tags = [build_version(docker_client, context, version) for version in range(5)]
    tidy(docker_client, [context])  # what a start does once its containers exist
    assert tags_of(docker_client, context) == set(tags[2:])
    assert len(ids_of(docker_client, context)) == 3


def test_an_image_a_container_uses_is_kept(context: Path, docker_client) -> None:  # noqa: ANN001
    oldest = build_version(docker_client, context, 0)
    container = docker_client.containers.create(oldest, command=["true"])
    try:
        tags = [oldest] + [build_version(docker_client, context, version) for version in range(1, 5)]
        tidy(docker_client, [context])
        assert tags_of(docker_client, context) == {oldest, *tags[2:]}
    finally:
        container.remove(force=True)
    assert prune_images(docker_client, wanted=lambda built: built == str(context.resolve()),
                        substitutes=False).removed == [oldest]


def test_harness_prune_keeps_n_per_context_under_the_current_folder(context: Path, docker_client,  # noqa: ANN001
                                                                    tmp_path: Path) -> None:
    tags = [build_version(docker_client, context, version) for version in range(3)]
    done = subprocess.run([HARNESS, "prune", "--keep", "1"], capture_output=True, text=True, cwd=tmp_path,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert set(done.stdout.splitlines()[:-1]) == {f"removed {tag}" for tag in tags[:2]}
    assert done.stdout.splitlines()[-1].startswith("removed 2 built image(s) or tag(s) (build contexts under ")
    assert "substitute" in done.stdout.splitlines()[-1]  # engine-wide substitutes: only with --all
    assert tags_of(docker_client, context) == {tags[2]}


def test_harness_prune_removes_the_untagged_images_of_double_builds_but_not_one_in_use(
        context: Path, docker_client, tmp_path: Path) -> None:  # noqa: ANN001
    (context / "version.txt").write_text("1\n")
    tag = f"pytest-topology/{context.name}:double"
    used, unused = (build_as_an_older_harness(docker_client, context, tag) for _ in range(2))
    current = build_as_an_older_harness(docker_client, context, tag)  # the tag ends on the last build
    assert len({used, unused, current}) == 3
    container = docker_client.containers.create(used, command=["true"])  # a kept run's job, from the first build
    try:
        done = subprocess.run([HARNESS, "prune"], capture_output=True, text=True, cwd=tmp_path, timeout=120)
        assert done.returncode == 0, done.stderr
        assert set(done.stdout.splitlines()[:-1]) == {f"removed untagged image {unused[:19]}", f"removed {tag}"}
        assert ids_of(docker_client, context) == {used}  # the one a container uses, only
    finally:
        container.remove(force=True)
    subprocess.run([HARNESS, "prune"], capture_output=True, text=True, cwd=tmp_path, timeout=120, check=True)
    assert ids_of(docker_client, context) == set()  # no longer in use: nothing of the context is left


def test_harness_prune_leaves_a_context_alone_while_a_session_builds_or_starts_from_it(
        context: Path, docker_client, tmp_path: Path) -> None:  # noqa: ANN001
    tags = [build_version(docker_client, context, version) for version in range(2)]
    with using_contexts([str(context.resolve())]):  # what a start holds until its containers exist
        done = subprocess.run([HARNESS, "prune", "--keep", "1"], capture_output=True, text=True, cwd=tmp_path,
                              timeout=120)
        assert done.returncode == 0, done.stderr
        assert done.stdout.splitlines()[0] == (f"left {context.resolve()} alone: a session is building or starting "
                                               "from it (run `harness prune` again once it has started)")
        assert tags_of(docker_client, context) == set(tags)
    done = subprocess.run([HARNESS, "prune", "--keep", "1"], capture_output=True, text=True, cwd=tmp_path,
                          timeout=120)
    assert done.stdout.splitlines()[0] == f"removed {tags[0]}"
    assert tags_of(docker_client, context) == {tags[1]}


def test_an_unused_substitute_alias_is_removed(docker_client) -> None:  # noqa: ANN001
    tag = f"pytest-topology-test/substitute-{uuid.uuid4().hex[:6]}:1"
    image, _ = docker_client.images.build(fileobj=_dockerfile(f"FROM python:3.11-slim\nLABEL {L.SUBSTITUTE}=x\n"),
                                          tag=tag, rm=True)
    try:
        assert prune_images(docker_client, wanted=lambda context: False,
                            substitute_tags=lambda t: t == tag).removed == [tag]
    finally:
        subprocess.run(["docker", "rmi", "-f", tag], capture_output=True)


def _dockerfile(text: str):  # noqa: ANN202
    import io

    return io.BytesIO(text.encode())
