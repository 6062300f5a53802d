"""Topologies built in Python: the same TopologySpec and the same messages as the YAML loader, located by the
topology's name instead of file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

import harness
from harness import TopologyFileError, ready, topology

from .conftest import Load, LoadError


def _message(error: TopologyFileError) -> str:
    """The message after its location (`file:line: ` or `topology 'name': `)."""
    return str(error).removeprefix(f"{error.location}: ")


def test_the_builder_makes_the_spec_the_yaml_loader_makes(load: Load, tmp_path: Path, app_dir: Path) -> None:
    from_yaml = load("""
        name: shop
        services:
          redis:
            image: redis:7
            ports: [6379]
            ready: {log: Ready to accept connections}
          api:
            build: ./app
            ports: [8000]
            depends_on: [redis]
            environment: {REDIS_HOST: redis}
            ready: {http: {port: 8000, path: /health}}
    """)
    from_python = (topology("shop", base_dir=tmp_path)
                   .service("redis", image="redis:7", ports=[6379], ready=ready.log("Ready to accept connections"))
                   .service("api", build="./app", ports=[8000], depends_on=["redis"], environment={"REDIS_HOST": "redis"},
                            ready=ready.http(8000, "/health"))).spec
    assert from_python.model_dump() == from_yaml.model_dump()
    assert from_python.base_dir == tmp_path.resolve()
    assert from_python.project == "shop"


def test_an_unknown_dependency_gets_the_message_yaml_gets(load_error: LoadError, tmp_path: Path) -> None:
    yaml_text = load_error("""
        services:
          postgres: {image: postgres:15}
          dataservice: {image: app, depends_on: [postgress]}
    """)
    with pytest.raises(TopologyFileError) as info:
        _ = (topology("shop", base_dir=tmp_path).service("postgres", image="postgres:15")
             .service("dataservice", image="app", depends_on=["postgress"])).spec
    assert str(info.value) == ("topology 'shop': services.dataservice.depends_on[0]: 'postgress' is not a service "
                               "(did you mean 'postgres'?)")
    assert yaml_text == "topology.yaml:3: " + _message(info.value)


def test_a_misspelt_key_is_named_with_the_near_miss(tmp_path: Path) -> None:
    with pytest.raises(TopologyFileError) as info:
        _ = topology("shop", base_dir=tmp_path).service("redis", imgae="redis:7").spec
    assert str(info.value).startswith("topology 'shop': services.redis.imgae: unknown key 'imgae' "
                                      "(did you mean 'image'?); allowed: image, build,")


def test_a_cycle_is_named_in_full(tmp_path: Path) -> None:
    with pytest.raises(TopologyFileError) as info:
        _ = (topology("loop", base_dir=tmp_path).service("a", image="x", depends_on=["b"])
             .service("b", image="x", depends_on=["a"])).spec
    assert str(info.value) == "topology 'loop': services.a.depends_on: dependency cycle: a -> b -> a"


def test_build_contexts_resolve_against_base_dir_not_the_current_folder(tmp_path: Path, app_dir: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir("/")
    spec = topology("shop", base_dir=tmp_path).service("api", build="./app").spec
    assert spec.base_dir / spec.services["api"].build.context == tmp_path.resolve() / "app"
    with pytest.raises(TopologyFileError) as info:
        _ = topology("shop", base_dir=tmp_path / "elsewhere").service("api", build="./app").spec
    assert "services.api.build: build context './app' is not a directory" in str(info.value)


def test_base_dir_defaults_to_the_calling_file_folder() -> None:
    assert topology("here").service("a", image="x").spec.base_dir == Path(__file__).parent


def test_every_error_class_is_importable_from_the_package() -> None:
    from harness import errors

    for name in errors.__all__:
        assert getattr(harness, name) is getattr(errors, name)
    assert {"UnknownService", "DockerError", "DependencyCycle", "MissingMessageProducer", "AuthHookError",
            "PactVerifierError", "TopologyFileError", "ServiceNotReady"} <= set(harness.__all__)


@pytest.mark.parametrize(("error", "code"), [
    (harness.TopologyFileError("t.yaml:1", "bad"), 2), (harness.MalformedPact("bad"), 2),
    (harness.DockerUnavailable("none"), 3), (harness.BuildFailed("broken"), 3), (harness.ServiceNotReady("slow"), 1), (harness.ServiceExited("died"), 1),
    (harness.DockerError("refused"), 3),
])
def test_error_classes_carry_the_exit_code_of_their_kind(error: harness.HarnessError, code: int) -> None:
    assert error.exit_code == code


def test_a_dependency_cycle_from_the_plan_is_a_harness_error() -> None:
    assert issubclass(harness.DependencyCycle, harness.HarnessError)
    assert harness.DependencyCycle(["a", "b", "a"]).names == ["a", "b", "a"]
