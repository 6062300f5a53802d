"""Which images a Dockerfile starts from (what the build tag hashes the ids of): stages, scratch, targets, ARGs."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from harness.model.parts import BuildSpec
from harness.runtime.buildcontext import build_tag
from harness.runtime.dockerfile import base_images

MULTI_STAGE = textwrap.dedent("""\
    # syntax=docker/dockerfile:1
    ARG PY=3.11
    ARG REGISTRY
    FROM --platform=linux/amd64 python:${PY}-slim AS Build
    RUN pip wheel . -w /wheels
    FROM build AS test
    FROM ${REGISTRY}node:20 AS assets
    FROM scratch AS empty
    FROM redis:7 AS release
    COPY --from=build /wheels /wheels
    FROM python:${PY}-slim
    ARG PY=9.9
    FROM release
""")


def test_every_stage_base_once_without_stage_references_or_scratch() -> None:
    assert base_images(MULTI_STAGE, {}) == ["python:3.11-slim", "node:20", "redis:7"]


def test_a_build_arg_replaces_an_arg_default_and_fills_an_arg_without_one() -> None:
    assert base_images(MULTI_STAGE, {"PY": "3.12", "REGISTRY": "mirror.test/"}) == [
        "python:3.12-slim", "mirror.test/node:20", "redis:7"]


def test_only_the_stages_up_to_the_target_count() -> None:
    assert base_images(MULTI_STAGE, {}, target="test") == ["python:3.11-slim"]
    assert base_images(MULTI_STAGE, {}, target="Assets") == ["python:3.11-slim", "node:20"]
    assert base_images(MULTI_STAGE, {}, target="empty") == ["python:3.11-slim", "node:20"]


@pytest.mark.parametrize(("dockerfile", "args", "expected"), [
    ("FROM scratch\nCOPY app /app\n", {}, []),
    ("FROM python:3.11-slim\nFROM python:3.11-slim\n", {}, ["python:3.11-slim"]),
    # a build arg that no ARG before the first FROM declares is not seen by FROM (Docker leaves it empty)
    ("FROM python:${PY}-slim\n", {"PY": "3.12"}, ["python:-slim"]),
    ("FROM python\nARG TAG=3\nFROM redis:$TAG\n", {}, ["python", "redis:"]),
    # the forms of Docker's variable replacement
    ("ARG BASE\nFROM ${BASE:-python:3.11-slim}\n", {}, ["python:3.11-slim"]),
    ("ARG BASE\nFROM ${BASE:-python:3.11-slim}\n", {"BASE": "redis:7"}, ["redis:7"]),
    ("ARG E=\nFROM x${E:-y}${E-z}\n", {}, ["xy"]),
    ("ARG DEBUG\nFROM app${DEBUG:+-debug}\n", {"DEBUG": "1"}, ["app-debug"]),
    # one ARG, several names; quotes; a default built from an earlier ARG
    ('ARG NAME TAG="7"\nARG IMAGE=${NAME:-redis}:${TAG}\nFROM $IMAGE\n', {}, ["redis:7"]),
    ("ARG NAME TAG=7\nFROM ${NAME}:${TAG}\n", {"NAME": "valkey"}, ["valkey:7"]),
    # continuation lines, comments between them, another escape character
    ("FROM \\\n  # the base\n  python:3.11-slim \\\n  AS base\nFROM base\n", {}, ["python:3.11-slim"]),
    ("# escape=`\nFROM `\n  redis:7 AS r\n", {}, ["redis:7"]),
    ("", {}, []),
    # COPY --from: an image is a base too; an earlier stage, by name or number, is not
    ("FROM python:3.11-slim AS build\nFROM redis:7\nCOPY --from=build /a /a\nCOPY --from=0 /b /b\n"
     "COPY --chown=1 --from=tools:1 /c /c\n", {}, ["python:3.11-slim", "redis:7", "tools:1"]),
])
def test_from_lines_are_read_as_docker_reads_them(dockerfile: str, args: dict[str, str], expected: list[str]) -> None:
    assert base_images(dockerfile, args) == expected


def test_the_bases_are_part_of_the_build_tag(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTEST_TOPOLOGY_CACHE", str(tmp_path / "cache"))
    (tmp_path / "Dockerfile").write_text("FROM base:1\n")
    build = BuildSpec(context=".")
    first = build_tag(tmp_path, build, bases=["base:1=sha256:aaa"])
    assert build_tag(tmp_path, build, bases=["base:1=sha256:aaa"]) == first
    assert build_tag(tmp_path, build, bases=["base:1=sha256:bbb"]) != first
    assert build_tag(tmp_path, build, bases=["base:1=missing"]) != first


def test_copy_from_counts_in_the_target_stage_and_not_after_it() -> None:
    dockerfile = "FROM python:3.11-slim AS app\nCOPY --from=tools:1 /t /t\nFROM app AS test\nCOPY --from=later:1 /l /l\n"
    assert base_images(dockerfile, {}, target="app") == ["python:3.11-slim", "tools:1"]
    assert base_images(dockerfile, {}) == ["python:3.11-slim", "tools:1", "later:1"]


def test_instructions_only_buildkit_builds_are_named_with_their_lines() -> None:
    from harness.runtime.dockerfile import buildkit_instructions

    dockerfile = ("FROM python:3.11-slim\n"
                  "RUN --mount=type=cache,target=/root/.cache \\\n    pip install -r requirements.txt\n"
                  "COPY --chown=1000 --chmod=0644 app /srv\n"
                  "COPY --link --from=builder /out /out\n"
                  "ADD --checksum=sha256:abc https://example.test/x /x\n"
                  "RUN echo --mount is text here\n"
                  "COPY --chown=1000 app /srv\n")
    assert buildkit_instructions(dockerfile) == ["RUN --mount (line 2)", "COPY --chmod (line 4)",
                                                 "COPY --link (line 5)", "ADD --checksum (line 6)"]
