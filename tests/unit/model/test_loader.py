"""load_topology on our own YAML format: what a valid file becomes, and the exact error a user sees for a bad one.

Errors read `FILE:LINE: dotted.path: message`; line 1 is the first line of each YAML text (see conftest.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import TopologyFileError
from harness.model.loader import load_topology
from harness.model.parts import BuildSpec, HttpCheck, Mount, ReadyProbe
from harness.model.service import ServiceSpec, run_network

SERVICE_KEYS = (
    "image, build, entrypoint, command, working_dir, user, environment, env_file, ports, depends_on, "
    "restart_on_replace, replicas, job, pull_policy, ready, "
    "healthcheck, timeout, aliases, networks, placement, weight, mounts, files, volumes, image_volumes, tmpfs, init, cap_add, cap_drop, privileged, tty, stdin_open, extra_hosts, hostname, "
    "domainname, links, external_links, network_mode, post_start, pre_stop, stop_grace_period, volumes_from, dns, dns_search, dns_opt, security_opt, read_only, group_add, use_api_socket, devices, device_cgroup_rules, "
    "device_requests, runtime, ipc, pid, uts, cgroup, userns_mode, cgroup_parent, isolation, mac_address, storage_opt, "
    "blkio_config, mem_limit, memswap_limit, mem_reservation, mem_swappiness, oom_kill_disable, oom_score_adj, cpus, "
    "cpu_shares, cpu_period, cpu_quota, cpu_rt_period, cpu_rt_runtime, cpu_count, cpu_percent, cpuset, pids_limit, "
    "shm_size, ulimits, sysctls, stop_signal, labels, platform, openapi, auth, fuzz, consumes, pact_name"
)
EXAMPLE = Path(__file__).parent.parents[1] / "topologies" / "example.yaml"


# --- valid files -------------------------------------------------------------------------------------------------


def test_services_load_in_file_order(load):
    spec = load("""
        services:
          db:
            image: postgres:16
          api:
            image: api:latest
            depends_on: [db]
          web:
            image: web:latest
            depends_on: [api]
    """)
    assert list(spec.services) == ["db", "api", "web"]
    assert spec.services["db"].image == "postgres:16"
    assert spec.services["web"].depends_on == ["api"]


def test_defaults_of_a_minimal_service(load):
    service = load("""
        services:
          db:
            image: postgres:16
    """).services["db"]
    assert service.build is None
    assert service.command is None
    assert service.environment == {}
    assert service.ports == []
    assert service.depends_on == []
    assert service.ready is None
    assert service.timeout == 60.0
    assert service.mounts == []


def test_ports_and_command(load):
    service = load("""
        services:
          web:
            image: web
            command: [python, app.py]
            ports: [8000, 9000]
    """).services["web"]
    assert service.ports == [8000, 9000]
    assert service.command == ["python", "app.py"]


@pytest.mark.parametrize(
    ("ready", "expected"),
    [
        ("{http: {port: 8000, path: /health}}", ReadyProbe(http=HttpCheck(port=8000, path="/health"))),
        ("{http: {port: 8000}}", ReadyProbe(http=HttpCheck(port=8000, path="/", status=200))),
        ("{tcp: 5432}", ReadyProbe(tcp=5432)),
        ("{log: Ready to accept connections}", ReadyProbe(log="Ready to accept connections")),
        ("{log: started, times: 2}", ReadyProbe(log="started", times=2)),
        ("{command: pg_isready}", ReadyProbe(command="pg_isready")),
        ("{command: [pg_isready, -U, app]}", ReadyProbe(command=["pg_isready", "-U", "app"])),
    ],
    ids=["http", "http-defaults", "tcp", "log", "log-times", "command-string", "command-list"],
)
def test_ready_probe_kinds(load, ready, expected):
    spec = load(f"""
        services:
          svc:
            image: x
            ready: {ready}
    """)
    assert spec.services["svc"].ready == expected


def test_build_shorthand_is_a_context(load, app_dir):
    service = load("""
        services:
          app:
            build: ./app
    """).services["app"]
    assert service.build == BuildSpec(context="./app", dockerfile="Dockerfile", args={})
    assert service.image is None


def test_build_mapping_form_with_dockerfile_and_args_as_text(load, app_dir):
    service = load("""
        services:
          app:
            build:
              context: ./app
              dockerfile: Dockerfile.dev
              args: {VERSION: 2, DEBUG: yes}
    """).services["app"]
    assert service.build == BuildSpec(
        context="./app", dockerfile="Dockerfile.dev", args={"VERSION": "2", "DEBUG": "True"}
    )


def test_mounts_short_and_long_form(load, conf_dir):
    service = load("""
        services:
          app:
            image: x
            mounts:
              - ./conf:/etc/app
              - {source: ./conf/app.conf, target: /etc/app.conf}
    """).services["app"]
    assert service.mounts == [
        Mount(source="./conf", target="/etc/app"),
        Mount(source="./conf/app.conf", target="/etc/app.conf"),
    ]


@pytest.mark.parametrize(
    ("value", "text"),
    [("5", "5"), ("1.5", "1.5"), ("true", "true"), ("false", "false"), ("''", ""), ("hello world", "hello world")],
    ids=["int", "float", "true", "false", "empty", "text"],
)
def test_environment_values_become_strings(load, value, text):
    spec = load(f"""
        services:
          app:
            image: x
            environment:
              VALUE: {value}
    """)
    assert spec.services["app"].environment == {"VALUE": text}


def test_name_defaults_to_the_folder_of_the_file(load):
    spec = load("""
        services:
          app:
            image: x
    """, name="shop/topology.yaml")
    assert spec.name == spec.name == "shop"


def test_name_key_is_the_project_name(load):
    spec = load("""
        name: checkout
        services:
          app:
            image: x
    """, name="shop/topology.yaml")
    assert spec.name == "checkout"


def test_file_and_base_dir_are_the_resolved_topology_file(write):
    file = write("""
        services:
          app:
            image: x
    """, name="deploy/topology.yaml")
    spec = load_topology(file)
    assert spec.file == file.resolve()
    assert spec.base_dir == file.resolve().parent


def test_yaml_anchor_merge_keys_are_followed(load):
    spec = load("""
        services:
          a: &base
            image: x
            environment: {MODE: test}
          b:
            <<: *base
            ports: [80]
    """)
    assert spec.services["b"].image == "x"
    assert spec.services["b"].environment == {"MODE": "test"}


def test_the_example_topology_loads():
    spec = load_topology(EXAMPLE)
    assert spec.name == "example"
    assert spec.services  # the real services are the example's business; it must load without errors


# --- YAML-level errors -------------------------------------------------------------------------------------------


def test_yaml_syntax_error_names_its_line(load_error):
    message = load_error("""
        services:
          a:
            image: x
           ports: [80]
    """)
    assert message == "topology.yaml:4: invalid YAML: expected <block end>, but found '<block mapping start>'"


def test_duplicate_key_names_the_second_occurrence(load_error):
    message = load_error("""
        services:
          a:
            image: x
            ports: [80]
            image: y
    """)
    assert message == "topology.yaml:5: services.a.image: duplicate key 'image'"


def test_unreadable_file(tmp_path):
    with pytest.raises(TopologyFileError) as info:
        load_topology(tmp_path / "missing.yaml")
    assert str(info.value) == f"{tmp_path / 'missing.yaml'}: cannot read the topology file: No such file or directory"


@pytest.mark.parametrize("text", ["", "- a\n- b\n", "just text\n"], ids=["empty", "list", "scalar"])
def test_file_that_is_not_a_mapping(load_error, text):
    assert load_error(text) == "topology.yaml:1: a topology file is a mapping with a 'services' key"


# --- unknown and missing keys ------------------------------------------------------------------------------------


def test_unknown_service_key_suggests_and_lists_allowed_keys(load_error):
    message = load_error("""
        services:
          a:
            image: x
            enviroment: {A: 1}
    """)
    assert message == (
        "topology.yaml:4: services.a.enviroment: unknown key 'enviroment' (did you mean 'environment'?); "
        f"allowed: {SERVICE_KEYS}"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            """
            services:
              a:
                image: x
                ready:
                  http:
                    port: 80
                    pth: /health
            """,
            "topology.yaml:7: services.a.ready.http.pth: unknown key 'pth' (did you mean 'path'?); "
            "allowed: port, path, status",
        ),
        (
            """
            services:
              a:
                image: x
                ready:
                  tpc: 80
            """,
            "topology.yaml:5: services.a.ready.tpc: unknown key 'tpc' (did you mean 'tcp'?); "
            "allowed: http, tcp, log, times, command, interval",
        ),
        (
            """
            services:
              a:
                image: x
                mounts:
                  - source: ./conf
                    target: /etc/conf
                    mode: ro
            """,
            "topology.yaml:7: services.a.mounts[0].mode: unknown key 'mode'; allowed: source, target, read_only, copy, "
            "create_host_path, selinux, propagation",
        ),
    ],
    ids=["ready.http", "ready", "mounts[0]"],
)
def test_unknown_nested_key(load_error, text, expected):
    assert load_error(text) == expected


def test_unknown_build_key(load_error, app_dir):
    message = load_error("""
        services:
          a:
            build:
              context: ./app
              dockerfil: Dockerfile.dev
    """)
    assert message == (
        "topology.yaml:5: services.a.build.dockerfil: unknown key 'dockerfil' (did you mean 'dockerfile'?); "
        "allowed: context, dockerfile, dockerfile_inline, args, target, labels, extra_hosts, network, shm_size, "
        "isolation, no_cache, pull, tags, platform, ssh, secrets, additional_contexts, privileged, entitlements, "
        "ulimits"
    )


def test_unknown_top_level_key_is_reported_with_the_missing_services(load_error):
    message = load_error("""
        name: shop
        servics:
          a:
            image: x
    """)
    assert message == (
        "topology.yaml:1: required key 'services' is missing\n"
        "topology.yaml:2: servics: unknown key 'servics' (did you mean 'services'?); allowed: name, services, networks, contracts, volumes, engines, image_substitutes"
    )


def test_missing_services(load_error):
    message = load_error("""
        name: shop
    """)
    assert message == "topology.yaml:1: required key 'services' is missing"


def test_missing_nested_required_key(load_error):
    message = load_error("""
        services:
          a:
            image: x
            ready:
              http: {path: /health}
    """)
    assert message == "topology.yaml:5: services.a.ready.http: required key 'port' is missing"


def test_empty_services(load_error):
    assert load_error("services: {}\n") == (
        "topology.yaml:1: services: must not be empty: give at least one (found {})"
    )


# --- service rules -----------------------------------------------------------------------------------------------


def test_service_needs_image_or_build(load_error):
    message = load_error("services:\n  a:\n    command: run\n")
    assert message == (
        "topology.yaml:2: services.a: needs 'image' (an image name) or 'build' (a build context), or both (the built "
        "image is then also tagged with the image name)"
    )


def test_image_beside_build_is_the_name_the_built_image_also_gets(load, app_dir):
    spec = load("services:\n  a:\n    image: shop-app:dev\n    build: ./app\n")
    assert spec.services["a"].image == "shop-app:dev"
    assert spec.services["a"].build.context == "./app"


@pytest.mark.parametrize(
    ("ready", "found"),
    [
        ("{tcp: 80, log: started}", "tcp, log"),
        ("{http: {port: 80}, command: [pg_isready]}", "http, command"),
        ("{}", "none"),
    ],
    ids=["tcp+log", "http+command", "none"],
)
def test_ready_probe_needs_exactly_one_kind(load_error, ready, found):
    message = load_error(f"""
        services:
          a:
            image: x
            ready: {ready}
    """)
    assert message == (
        f"topology.yaml:4: services.a.ready: needs exactly one of http, tcp, log, command (found: {found})"
    )


def test_times_only_applies_to_a_log_probe(load_error):
    message = load_error("""
        services:
          a:
            image: x
            ready:
              tcp: 80
              times: 3
    """)
    assert message == "topology.yaml:4: services.a.ready: 'times' only applies to a 'log' probe"


@pytest.mark.parametrize(
    ("port", "problem"),
    [(0, "port 0 is outside 1..65535"), (70000, "port 70000 is outside 1..65535")],
)
def test_port_out_of_range(load_error, port, problem):
    message = load_error(f"""
        services:
          a:
            image: x
            ports:
              - 8080
              - {port}
    """)
    assert message == f"topology.yaml:6: services.a.ports[1]: {problem} (or its range is reversed)"


def test_ready_port_out_of_range(load_error):
    message = load_error("""
        services:
          a:
            image: x
            ready:
              tcp: 65536
    """)
    assert message == "topology.yaml:5: services.a.ready.tcp: Input should be less than or equal to 65535 (found 65536)"


@pytest.mark.parametrize("name", ["Web", "_web", "web server", "-web"])
def test_invalid_service_name(load_error, name):
    message = load_error(f"""
        services:
          ok:
            image: x
          "{name}":
            image: x
    """)
    assert message.endswith(
        f"service name {name!r} must be lower-case letters, digits, '-', '_' or '.', "
        "starting with a letter or digit (it becomes a host name on the network)"
    )


def test_invalid_service_name_points_at_the_name(load_error):
    message = load_error("""
        services:
          ok:
            image: x
          Web:
            image: x
    """)
    assert message == (
        "topology.yaml:4: services.Web: service name 'Web' must be lower-case letters, digits, '-', '_' or '.', "
        "starting with a letter or digit (it becomes a host name on the network)"
    )


def test_invalid_mount_short_form(load_error):
    message = load_error("""
        services:
          a:
            image: x
            mounts:
              - ./conf
    """)
    assert message == (
        "topology.yaml:5: services.a.mounts[0]: a mount is 'SOURCE:/absolute/target[:ro|:rw]' or {source: ..., target: ...}"
    )


def test_several_validation_errors_are_reported_together_one_per_line(load_error):
    message = load_error("""
        services:
          a:
            image: x
            ports: [0]
          b:
            imag: x
    """)
    assert message.splitlines() == [
        "topology.yaml:4: services.a.ports[0]: port 0 is outside 1..65535 (or its range is reversed)",
        f"topology.yaml:6: services.b.imag: unknown key 'imag' (did you mean 'image'?); allowed: {SERVICE_KEYS}",
    ]


def test_error_carries_its_location(write):
    file = write("""
        services:
          a:
            image: x
            prots: [80]
    """)
    with pytest.raises(TopologyFileError) as info:
        load_topology(file)
    assert info.value.location == "topology.yaml:4"


# --- references between services ---------------------------------------------------------------------------------


def test_depends_on_a_missing_service_suggests_the_close_name_at_the_line_of_the_item(load_error):
    message = load_error("""
        name: shop
        services:
          postgres:
            image: postgres:16
          dataservice:
            image: dataservice
            ports: [8000]
            depends_on:
              - postgres
              - postgress
    """)
    assert message == (
        "topology.yaml:10: services.dataservice.depends_on[1]: 'postgress' is not a service (did you mean 'postgres'?)"
    )


def test_consumes_a_missing_service(load_error):
    message = load_error("""
        services:
          postgres:
            image: postgres:16
          api:
            image: api
            consumes: [postgress]
    """)
    assert message == (
        "topology.yaml:6: services.api.consumes[0]: 'postgress' is not a service (did you mean 'postgres'?)"
    )


def test_missing_service_without_a_close_name_has_no_suggestion(load_error):
    message = load_error("""
        services:
          postgres:
            image: postgres:16
          api:
            image: api
            depends_on: [kafka]
    """)
    assert message == "topology.yaml:6: services.api.depends_on[0]: 'kafka' is not a service"


@pytest.mark.parametrize("key", ["depends_on", "consumes"])
def test_service_cannot_list_itself(load_error, key):
    message = load_error(f"""
        services:
          api:
            image: api
            {key}:
              - api
    """)
    assert message == f"topology.yaml:5: services.api.{key}[0]: 'api' cannot list itself"


def test_dependency_cycle_is_named_in_full(load_error):
    message = load_error("""
        services:
          a:
            image: x
            depends_on: [b]
          b:
            image: x
            depends_on: [c]
          c:
            image: x
            depends_on: [a]
    """)
    assert message == "topology.yaml:4: services.a.depends_on: dependency cycle: a -> b -> c -> a"


def test_consumes_may_go_both_ways(load):
    spec = load("""
        services:
          a:
            image: x
            consumes: [b]
          b:
            image: x
            consumes: [a]
    """)
    assert spec.services["a"].consumes == ["b"]


def test_several_bad_references_are_reported_together(load_error):
    message = load_error("""
        services:
          a:
            image: x
            depends_on:
              - zz
              - yy
    """)
    assert message.splitlines() == [
        "topology.yaml:5: services.a.depends_on[0]: 'zz' is not a service",
        "topology.yaml:6: services.a.depends_on[1]: 'yy' is not a service",
    ]


# --- paths on disk -----------------------------------------------------------------------------------------------


def test_build_context_that_does_not_exist(load_error, tmp_path):
    message = load_error("""
        services:
          app:
            image: x
          worker:
            build: ./worker
    """)
    assert message == (
        f"topology.yaml:5: services.worker.build: build context './worker' is not a directory "
        f"(looked in {tmp_path.resolve() / 'worker'})"
    )


def test_build_context_without_the_dockerfile(load_error, app_dir):
    message = load_error("""
        services:
          app:
            build:
              context: ./app
              dockerfile: Dockerfile.prod
    """)
    assert message == f"topology.yaml:3: services.app.build: no Dockerfile 'Dockerfile.prod' in {app_dir.resolve()}"


def test_mount_source_that_does_not_exist(load_error, tmp_path, conf_dir):
    message = load_error("""
        services:
          app:
            image: x
            mounts:
              - ./conf:/etc/conf
              - {source: ./secrets, target: /run/secrets}
    """)
    assert message == (
        f"topology.yaml:6: services.app.mounts[1]: mount source './secrets' does not exist "
        f"(paths are relative to {tmp_path.resolve()})"
    )


def test_paths_are_relative_to_the_topology_file_not_the_working_directory(write, app_dir, monkeypatch, tmp_path):
    file = write("""
        services:
          app:
            build: ./app
    """)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert load_topology(file).services["app"].build.context == "./app"


# --- messages that were poor once ---------------------------------------------------------------


def test_wrong_type_for_a_union_field_is_one_error_at_the_field(load_error):
    message = load_error("""
        services:
          a:
            image: x
            command: 5
    """)
    assert len(message.splitlines()) == 1
    assert message.startswith("topology.yaml:4: services.a.command: ")


def test_empty_service_body_does_not_name_internal_classes(load_error):
    message = load_error("""
        services:
          a:
    """)
    assert message.startswith("topology.yaml:2: services.a: ")
    assert "ServiceSpec" not in message


def test_unclosed_quote_points_at_the_line_where_it_opens(write):
    file = write("""
        services:
          a:
            image: 'redis:7
          b:
            image: x
    """)
    with pytest.raises(TopologyFileError) as info:
        load_topology(file)
    assert info.value.location == "topology.yaml:3"


def test_top_level_file_key_is_unknown(load_error):
    message = load_error("""
        file: other.yaml
        services:
          a:
            image: x
    """)
    assert message == "topology.yaml:1: file: unknown key 'file'; allowed: name, services, networks, contracts, volumes, engines, image_substitutes"


def test_a_variable_without_a_value_takes_the_hosts_or_is_left_out(load, monkeypatch):
    # Compose's rule for `NAME:` with no value: the host's value, and no variable at all when the host has none.
    monkeypatch.setenv("HARNESS_TEST_FROM_HOST", "from host")
    monkeypatch.delenv("HARNESS_TEST_UNSET", raising=False)
    spec = load("""
        services:
          app:
            image: x
            environment:
              HARNESS_TEST_FROM_HOST:
              HARNESS_TEST_UNSET:
              SET: here
    """)
    assert spec.services["app"].environment == {"HARNESS_TEST_FROM_HOST": "from host", "SET": "here"}


def test_outside_network_mode_is_no_key_a_user_writes(load, load_error):
    """The compose reader's (a compose file's `network_mode` naming the engine's network): in a topology file, the
    builder or ServiceSpec(...) it is an unknown key, as any other."""
    import harness
    from harness.errors import UnknownKeyword

    spec = load("""
        services:
          api: {image: x, network_mode: front}
    """)
    assert run_network(spec.services["api"], ["front"]) == "front" and not spec.services["api"].outside_network_mode
    message = load_error("""
        services:
          web: {image: x, network_mode: front, outside_network_mode: true}
    """)
    assert ("topology.yaml:2: services.web.outside_network_mode: unknown key 'outside_network_mode' (did you mean "
            "'network_mode'?); allowed: image, build,") in message, message
    assert ", network_mode, post_start," in message, message
    with pytest.raises(TopologyFileError) as direct:
        ServiceSpec(image="x", network_mode="front", outside_network_mode=True)
    assert "outside_network_mode: unknown key 'outside_network_mode'" in str(direct.value)
    with pytest.raises(UnknownKeyword, match="services.web.outside_network_mode: unknown key 'outside_network_mode'"):
        harness.topology("t").service("web", image="x", outside_network_mode=True)  # type: ignore[call-arg]


def test_compose_keys_in_a_file_read_as_pytest_topology_say_so_once(tmp_path: Path) -> None:
    file = tmp_path / "stack.yaml"
    file.write_text("name: fmt\nservices:\n  web:\n    image: redis:7\n    scale: 2\n    expose: ['80']\n"
                    "    imgae: x\n")
    with pytest.raises(TopologyFileError) as raised:
        load_topology(file)
    lines = str(raised.value).splitlines()
    assert lines[:2] == ["stack.yaml:5: services.web.scale: unknown key 'scale' (a Docker Compose key)",
                         "stack.yaml:6: services.web.expose: unknown key 'expose' (a Docker Compose key)"]
    assert lines[2].startswith("stack.yaml:7: services.web.imgae: unknown key 'imgae' (did you mean 'image'?); "
                               "allowed: image, ")  # not a compose key: the list, once
    assert lines[3] == (
        "stack.yaml: this file is read as a pytest-topology file, not by Docker Compose: its name is not "
        "compose*.yaml or docker-compose*.yaml, and it has none of the top-level keys only compose files have "
        "(version, networks, volumes, include, secrets, configs); to have it read as a compose file, name it "
        "compose.yaml (or compose.NAME.yaml, docker-compose.yaml); the keys of a pytest-topology file: "
        "docs/guides/topology-file.md")
    assert len(lines) == 4


def test_a_host_path_under_volumes_binds_it_as_compose_reads_the_key(load):
    """`volumes: ["./src:/app:ro"]` in this format is Compose's short syntax: a path source binds a host folder
    (read-write unless `:ro`, a missing folder created); a name is a volume of the run."""
    spec = load("""
        services:
          app:
            image: python:3.11-slim
            volumes: ["./:/app:ro", "/var/log:/host-logs", "cache:/cache", "/scratch"]
    """)
    app = spec.services["app"]
    assert [(m.source, m.target, m.read_only, m.create_host_path) for m in app.mounts] == [
        ("./", "/app", True, True), ("/var/log", "/host-logs", False, True)]
    assert [(v.source, v.target) for v in app.volumes] == [("cache", "/cache"), (None, "/scratch")]
