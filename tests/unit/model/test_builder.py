"""Topologies built in Python: the same TopologySpec and the same messages as the YAML loader, located by the
topology's name instead of file:line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import harness
from harness import TopologyFileError, ready, topology

from ..conftest import Load, LoadError


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
    assert from_python.name == "shop"


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


# --- a TopologySpec made directly is validated as a file is ---------------------------------------------------------


def test_a_topology_spec_made_directly_is_validated_as_a_file_is(load_error: LoadError) -> None:
    yaml_text = load_error("""
        name: shop
        services:
          api: {image: app, depends_on: [b], ports: [8000, 70000]}
    """)
    with pytest.raises(TopologyFileError) as info:
        harness.TopologySpec(name="shop", services={"api": {"image": "app", "depends_on": ["b"],
                                                            "ports": [8000, 70000]}})
    assert str(info.value) == ("topology 'shop': services.api.ports[1]: port 70000 is outside 1..65535 (or its "
                               "range is reversed)")
    assert yaml_text == "topology.yaml:3: " + _message(info.value)


def test_every_reference_problem_of_a_spec_made_directly_is_one_line_with_its_dotted_path() -> None:
    with pytest.raises(TopologyFileError) as info:
        harness.TopologySpec.model_validate({"name": "shop", "services": {
            "api": {"image": "app", "depends_on": ["b"], "consumes": ["api"]},
            "worker": {"image": "app", "depends_on": ["apii"]}}})
    assert str(info.value).splitlines() == [
        "topology 'shop': services.api.depends_on[0]: 'b' is not a service",
        "topology 'shop': services.api.consumes[0]: 'api' cannot list itself",
        "topology 'shop': services.worker.depends_on[0]: 'apii' is not a service (did you mean 'api'?)",
    ]


def test_a_cycle_in_a_spec_made_directly_is_named_not_a_key_error() -> None:
    with pytest.raises(TopologyFileError) as info:
        harness.TopologySpec(name="loop", services={"a": {"image": "x", "depends_on": ["b"]},
                                                    "b": {"image": "x", "depends_on": ["a"]}})
    assert str(info.value) == "topology 'loop': services.a.depends_on: dependency cycle: a -> b -> a"


def test_a_spec_made_directly_names_itself_and_invents_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(TopologyFileError) as info:
        harness.TopologySpec(services={"a": {"image": "x"}})
    assert str(info.value) == ("topology: name: required for a topology that is not read from a file (a file's "
                               "folder names it otherwise): give name=")
    spec = harness.TopologySpec(name="Shop", services={"a": {"image": "x"}})
    assert (spec.name, spec.name, spec.file, spec.files) == ("shop", "shop", None, ())
    assert spec.base_dir == tmp_path.resolve()  # said in its docstring; the builder takes base_dir=
    assert spec.identity == f"{tmp_path.resolve() / 'shop'} (built in Python)"


def test_a_spec_made_directly_gets_the_message_of_a_bad_key_and_a_bad_name() -> None:
    with pytest.raises(TopologyFileError) as info:
        harness.TopologySpec(name="shop", services={"Web": {"image": "x"}})
    assert str(info.value) == ("topology 'shop': services.Web: service name 'Web' must be lower-case letters, "
                               "digits, '-', '_' or '.', starting with a letter or digit (it becomes a host name on "
                               "the network)")
    with pytest.raises(TopologyFileError) as info:
        harness.TopologySpec(name="shop", services={"web": {"image": "x", "prots": [80]}})
    assert str(info.value).startswith("topology 'shop': services.web.prots: unknown key 'prots' (did you mean "
                                      "'ports'?); allowed: image, build,")


def test_a_built_topology_has_no_file_only_its_folder(tmp_path: Path) -> None:
    from harness.runtime.labels import is_under

    spec = topology("shop", base_dir=tmp_path).service("a", image="x").spec
    assert (spec.file, spec.files, spec.base_dir) == (None, (), tmp_path.resolve())
    assert is_under(spec.identity, tmp_path)  # `harness down` in its folder removes its kept runs, as a file's
    assert ".py-topology" not in spec.identity and spec.identity == f"{tmp_path.resolve() / 'shop'} (built in Python)"


def test_a_spec_read_from_a_file_keeps_its_file(load: Load, tmp_path: Path) -> None:
    spec = load("services:\n  a: {image: x}\n", name="shop/topology.yaml")
    assert spec.file == tmp_path / "shop" / "topology.yaml" and spec.files == (spec.file,)
    assert spec.identity == str(spec.file) and spec.base_dir == tmp_path / "shop"


# --- the builder's keywords ---------------------------------------------------------------------------------------


def test_the_builder_takes_one_keyword_per_key_of_a_service() -> None:
    import inspect

    from harness.model.base import internal
    from harness.model.service import ServiceSpec

    parameters = inspect.signature(harness.TopologyBuilder.service).parameters
    keywords = [name for name, p in parameters.items() if p.kind is inspect.Parameter.KEYWORD_ONLY]
    assert keywords == [name for name, field in ServiceSpec.model_fields.items() if not internal(field)]
    assert [name for name, field in ServiceSpec.model_fields.items() if internal(field)] == [
        "outside_network_mode", "restarted_by_compose"]
    # no **keywords: a type checker calls a misspelt one unexpected (the method refuses it at run time)
    assert all(p.kind is not inspect.Parameter.VAR_KEYWORD for p in parameters.values())


def test_a_type_checker_calls_a_misspelt_keyword_unexpected_and_names_it(tmp_path: Path) -> None:
    pytest.importorskip("mypy")
    import os
    import subprocess
    import sys

    (tmp_path / "user.py").write_text('from harness import topology\n\n'
                                      'shop = topology("shop").service("api", imge="x").service("db", image="y")\n'
                                      'reveal_type(shop)\n')
    checked = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--follow-imports=silent", "--cache-dir",
                              str(tmp_path / "cache"), "user.py"], cwd=tmp_path, capture_output=True, text=True,
                             env={**os.environ, "PYTHONPATH": str(Path(harness.__file__).parents[1])})
    lines = checked.stdout.splitlines()
    assert lines[0] == ('user.py:3: error: Unexpected keyword argument "imge" for "service" of "TopologyBuilder"; '
                        'did you mean "image"?  [call-arg]'), checked.stdout
    assert 'user.py:4: note: Revealed type is "harness.model.builder.TopologyBuilder"' in lines  # chains keep it
    assert lines[-1] == "Found 1 error in 1 file (checked 1 source file)"


def test_an_unknown_keyword_is_refused_at_the_call_with_the_close_names(tmp_path: Path) -> None:
    builder = topology("shop", base_dir=tmp_path)
    with pytest.raises(harness.UnknownKeyword) as info:
        builder.service("redis", imgae="redis:7")  # type: ignore[call-arg]
    assert isinstance(info.value, TypeError) and isinstance(info.value, TopologyFileError)
    assert str(info.value).startswith("topology 'shop': services.redis.imgae: unknown key 'imgae' "
                                      "(did you mean 'image'?); allowed: image, build, entrypoint,")
    assert (info.value.keyword, info.value.suggestion) == ("imgae", "image")
    assert "pact_name" in info.value.allowed


def test_model_objects_given_to_the_builder_become_what_a_file_says(load: Load, tmp_path: Path) -> None:
    from harness.model.parts import Healthcheck, Mount, Ulimit

    (tmp_path / "conf").mkdir()
    from_yaml = load("""
        name: shop
        services:
          db:
            image: postgres:15
            mounts: [{source: conf, target: /etc/conf, copy: true}]
            ulimits: {nofile: {soft: 1024, hard: 2048}}
            healthcheck: {test: pg_isready}
            environment: {DEBUG: true, WORKERS: 4}
    """)
    from_python = topology("shop", base_dir=tmp_path).service(
        "db", image="postgres:15", mounts=[Mount(source="conf", target="/etc/conf", copy=True)],
        ulimits={"nofile": Ulimit(soft=1024, hard=2048)}, healthcheck=Healthcheck(test=["CMD-SHELL", "pg_isready"]),
        environment={"DEBUG": True, "WORKERS": 4}).spec
    assert from_python.model_dump() == from_yaml.model_dump()


def test_something_that_is_no_topology_is_named_by_its_type(tmp_path: Path) -> None:
    from harness.model.builder import as_spec

    with pytest.raises(harness.NotATopology) as info:
        as_spec(42, tmp_path)
    assert str(info.value) == "a topology is a file path, a harness.topology(...) builder or a TopologySpec, not int"
    assert isinstance(info.value, TypeError) and info.value.exit_code == 2


def test_contracts_takes_one_keyword_per_key_of_contracts() -> None:
    import inspect

    from harness.model.topology import ContractsSpec

    parameters = inspect.signature(harness.TopologyBuilder.contracts).parameters
    assert [name for name in parameters if name != "self"] == list(ContractsSpec.model_fields)


def test_contracts_and_image_substitutes_make_what_the_file_says(load: Load, tmp_path: Path) -> None:
    from_yaml = load("""
        name: shop
        image_substitutes: {"docker.io/": "mirror/"}
        contracts:
          pacts: pacts
          states: [states.py]
          names: {Shop API: api}
          state_url: {api: /_pact/provider_states}
          exclude: [{consumer: legacy, reason: the legacy client is retired next month}]
        services:
          api: {image: app}
    """)
    from_python = (topology("shop", base_dir=tmp_path).service("api", image="app")
                   .contracts("pacts", states=["states.py"], names={"Shop API": "api"},
                              state_url={"api": "/_pact/provider_states"},
                              exclude=[{"consumer": "legacy", "reason": "the legacy client is retired next month"}])
                   .image_substitutes({"docker.io/": "mirror/"})).spec
    assert from_python.model_dump() == from_yaml.model_dump()
    with pytest.raises(TopologyFileError) as info:
        _ = topology("shop", base_dir=tmp_path).service("api", image="app").contracts(names={"x": "apii"}).spec
    assert str(info.value) == "topology 'shop': contracts.names.x: 'apii' is not a service (did you mean 'api'?)"


# --- network aliases that name two containers ---------------------------------------------------------------------


def test_an_alias_that_is_another_services_name_is_refused(tmp_path: Path) -> None:
    builder = (topology("trial", base_dir=tmp_path).service("a", image="redis:7", aliases=["b"])
               .service("b", image="redis:7"))
    with pytest.raises(TopologyFileError) as info:
        _ = builder.spec
    assert str(info.value) == ("topology 'trial': services.a.aliases[0]: alias 'b' is the name of service 'b': the "
                               "name would reach either container; remove the alias (or rename one of them)")


def test_an_alias_of_two_services_is_refused(tmp_path: Path) -> None:
    builder = (topology("trial", base_dir=tmp_path).service("a", image="redis:7", aliases=["cache"])
               .service("b", image="redis:7", aliases=["cache"]))
    with pytest.raises(TopologyFileError) as info:
        _ = builder.spec
    assert str(info.value) == ("topology 'trial': services.b.aliases[0]: alias 'cache' is also an alias of service "
                               "'a': it would reach either container; give each service its own aliases")


def test_an_alias_collision_in_a_topology_file_is_located(load_error: LoadError) -> None:
    assert load_error("""
        services:
          a:
            image: redis:7
          b:
            image: redis:7
            aliases:
              - a
    """) == ("topology.yaml:7: services.b.aliases[0]: alias 'a' is the name of service 'a': the name would reach "
             "either container; remove the alias (or rename one of them)")


def test_a_service_may_repeat_its_own_name_as_alias(tmp_path: Path) -> None:
    spec = topology("trial", base_dir=tmp_path).service("a", image="redis:7", aliases=["a", "cache"]).spec
    assert spec.services["a"].aliases == ["a", "cache"]


def test_builders_made_from_one_base_do_not_share_services(tmp_path: Path) -> None:
    # two conftests: topology_fixture(base.service("extra1", ...)) and topology_fixture(base.service("extra2", ...))
    base = topology("trial", base_dir=tmp_path).service("redis", image="redis:7")
    one = base.service("extra1", image="redis:7")
    two = base.service("extra2", image="redis:7").image_substitutes({"redis:7": "local/redis:7"}).contracts("pacts")
    assert list(one.spec.services) == ["redis", "extra1"]
    assert list(two.spec.services) == ["redis", "extra2"]
    assert list(base.spec.services) == ["redis"]
    assert base.spec.image_substitutes == one.spec.image_substitutes == {}
    assert two.spec.image_substitutes == {"redis:7": "local/redis:7"}
    assert two.spec.contracts.pacts == "pacts" and one.spec.contracts.pacts == "contracts"


# --- one located error, however a model is made -------------------------------------------------------------------


@pytest.mark.parametrize(("call", "message"), [
    (lambda: ready.http(0), "ready.http(...): http.port: Input should be greater than or equal to 1 (found 0)"),
    (lambda: ready.http(70000),
     "ready.http(...): http.port: Input should be less than or equal to 65535 (found 70000)"),
    (lambda: ready.log("x", times=0), "ready.log(...): times: Input should be greater than or equal to 1 (found 0)"),
    (lambda: ready.tcp(80, interval=-1), "ready.tcp(...): interval: Input should be greater than 0 (found -1)"),
    (lambda: ready.tcp("abc"),
     "ready.tcp(...): tcp: Input should be a valid integer, unable to parse string as an integer (found 'abc')"),
    (lambda: ready.command([]), "ready.command(...): command is empty: give the program and its arguments, e.g. "
                                "['pg_isready'], or a shell command string"),
])
def test_a_bad_probe_value_is_one_located_error(call: Any, message: str) -> None:
    with pytest.raises(TopologyFileError) as info:
        call()
    assert str(info.value) == message


@pytest.mark.parametrize(("call", "message"), [
    (lambda: harness.ServiceSpec(image="x", ports=[70000]),
     "ServiceSpec(...): ports[0]: port 70000 is outside 1..65535 (or its range is reversed)"),
    (lambda: harness.ServiceSpec(), "ServiceSpec(...): needs 'image' (an image name) or 'build' (a build context), "
                                    "or both (the built image is then also tagged with the image name)"),
    (lambda: harness.BuildSpec(contxt="./app"), "BuildSpec(...): required key 'context' is missing\n"
     "BuildSpec(...): contxt: unknown key 'contxt' (did you mean 'context'?); allowed: context, dockerfile, "
     "dockerfile_inline, args, target, labels, extra_hosts, network, shm_size, isolation, no_cache, pull, tags, "
     "platform, ssh, secrets, additional_contexts, privileged, entitlements, ulimits"),
    (lambda: harness.Mount(source="./nope"), "Mount(...): required key 'target' is missing"),
    (lambda: harness.ReadyProbe(tcp=1, log="x"),
     "ReadyProbe(...): needs exactly one of http, tcp, log, command (found: tcp, log)"),
    (lambda: harness.ContainerFile(target="/x"), "ContainerFile(...): required key 'content' is missing"),
])
def test_a_model_made_directly_gives_one_located_error(call: Any, message: str) -> None:
    with pytest.raises(TopologyFileError) as info:
        call()
    assert str(info.value) == message


def test_an_empty_command_probe_is_refused_in_a_file_too(load_error: LoadError) -> None:
    assert load_error("""
        services:
          a:
            image: redis:7
            ready: {command: []}
    """) == ("topology.yaml:4: services.a.ready: command is empty: give the program and its arguments, e.g. "
             "['pg_isready'], or a shell command string")


def test_a_bad_model_inside_a_spec_is_located_in_the_topology(tmp_path: Path) -> None:
    with pytest.raises(TopologyFileError) as info:
        harness.TopologySpec(name="s", services={"a": {"image": "redis:7", "ports": [0]}})
    assert str(info.value) == "topology 's': services.a.ports[0]: port 0 is outside 1..65535 (or its range is reversed)"


def test_pydantic_wording_comes_with_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(TopologyFileError) as info:
        _ = topology("t", base_dir=tmp_path).service("a", image="x", depends_on="b").spec  # type: ignore[arg-type]
    assert str(info.value) == "topology 't': services.a.depends_on: must be a list (found 'b'): write ['b']"
    with pytest.raises(TopologyFileError) as info:
        harness.TopologySpec(name="s", services={})
    assert str(info.value) == "topology 's': services: must not be empty: give at least one (found {})"
    with pytest.raises(TopologyFileError) as info:
        _ = topology("", base_dir=tmp_path).service("a", image="x").spec
    assert str(info.value) == ("topology: name: required for a topology that is not read from a file (a file's "
                               "folder names it otherwise): give a name that is not empty")
    with pytest.raises(TopologyFileError) as info:
        _ = topology("!!", base_dir=tmp_path).service("a", image="x").spec
    assert str(info.value) == ("topology '!!': name: '!!' has no letter or digit (a name keeps only lower-case "
                               "letters, digits, '-' and '_', as Compose's project names): give one that has")


def test_topology_start_of_something_else_names_what_was_given() -> None:
    with pytest.raises(harness.NotATopology) as info:
        harness.Topology.start({"services": {}})  # type: ignore[arg-type]
    assert str(info.value) == ("Topology.start: a topology is a file path, a harness.topology(...) builder or a "
                               "TopologySpec, not dict")


def test_without_a_calling_file_relative_paths_resolve_against_the_current_folder(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    code = "from harness import topology; print(topology('x').base_dir)"
    env = {**os.environ, "PYTHONPATH": str(Path(harness.__file__).parents[1])}
    for args, stdin in (([sys.executable, "-c", code], None), ([sys.executable, "-"], code)):
        done = subprocess.run(args, input=stdin, cwd=tmp_path, capture_output=True, text=True, env=env, check=False)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == str(tmp_path.resolve())
    module = tmp_path / "sub" / "mod.py"
    module.parent.mkdir()
    module.write_text(code + "\n")
    done = subprocess.run([sys.executable, str(module)], cwd=tmp_path, capture_output=True, text=True, env=env,
                          check=False)
    assert done.stdout.strip() == str(module.parent.resolve())  # a file: its folder


def test_a_boolean_is_no_port(tmp_path: Path) -> None:
    with pytest.raises(TopologyFileError) as info:
        _ = topology("t", base_dir=tmp_path).service("a", image="x", ports=[True]).spec
    assert str(info.value) == "topology 't': services.a.ports[0]: a port is a number, not True"
    with pytest.raises(TopologyFileError) as info:
        ready.tcp(True)
    assert str(info.value) == "ready.tcp(...): tcp: a port is a number, not True"
