"""docker-compose files through load_topology: detection, translation of the supported subset, warnings for ignored
keys and the exact error for everything else. Line 1 is the first line of each YAML text (see conftest.py).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from harness.errors import TopologyFileError
from harness.spec.compose import ComposeKeyIgnored
from harness.spec.loader import is_compose_file, load_topology
from harness.spec.model import BuildSpec, HttpCheck, Mount, ReadyProbe

COMPOSE = "docker-compose.yml"
SUPPORTED = "image, build, command, environment, ports, expose, depends_on, healthcheck, networks, volumes, x-topology"
IGNORED = ("container_name, deploy, hostname, init, labels, logging, platform, pull_policy, restart, stdin_open, "
           "stop_grace_period, stop_signal, tty")


@pytest.fixture
def load_compose(load):
    """load_compose(text) -> TopologySpec of `text` written as docker-compose.yml; fails on any warning."""

    def load_compose(text: str, name: str = COMPOSE):
        with warnings.catch_warnings():
            warnings.simplefilter("error", ComposeKeyIgnored)
            return load(text, name)

    return load_compose


@pytest.fixture
def compose_error(load_error):
    def compose_error(text: str, name: str = COMPOSE) -> str:
        return load_error(text, name)

    return compose_error


# --- detection ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["docker-compose.yml", "docker-compose.yaml", "compose.yml", "compose.yaml", "docker-compose.override.yml",
     "compose.dev.yaml", "compose-ci.yml"],
)
def test_compose_file_names_are_detected(name):
    assert is_compose_file(Path(name), {"services": {}})


@pytest.mark.parametrize("name", ["topology.yaml", "my-compose.yml", "docker-compose.yml.bak", "compose.json"])
def test_other_file_names_are_not_compose(name):
    assert not is_compose_file(Path(name), {"services": {}})


@pytest.mark.parametrize("key", ["version", "networks", "volumes"])
def test_compose_only_top_level_keys_mark_a_compose_file(key):
    assert is_compose_file(Path("stack.yaml"), {key: None, "services": {}})


def test_a_compose_file_with_another_name_is_detected_by_version(load_compose):
    spec = load_compose("""
        version: "3.8"
        services:
          db:
            image: postgres:16
            healthcheck:
              test: ["CMD", "pg_isready"]
    """, name="stack.yaml")
    assert spec.services["db"].ready == ReadyProbe(command=["pg_isready"])


def test_a_topology_file_is_not_read_as_compose(load_error):
    message = load_error("""
        services:
          db:
            image: postgres:16
            restart: always
    """, "topology.yaml")
    assert message == (
        "topology.yaml:4: services.db.restart: unknown key 'restart'; allowed: image, build, command, environment, "
        "ports, depends_on, ready, timeout, aliases, mounts, openapi, auth, fuzz, consumes, pact_name"
    )


# --- image, build, command ---------------------------------------------------------------------------------------


def test_image_and_command(load_compose):
    service = load_compose("""
        services:
          db:
            image: postgres:16
            command: ["postgres", "-c", "fsync=off"]
    """).services["db"]
    assert service.image == "postgres:16"
    assert service.command == ["postgres", "-c", "fsync=off"]


def test_build_string_drops_the_image_tag(load_compose, app_dir):
    service = load_compose("""
        services:
          app:
            build: ./app
            image: registry.example/app:dev
    """).services["app"]
    assert service.build == BuildSpec(context="./app")
    assert service.image is None


def test_build_mapping_with_args_as_a_list(load_compose, app_dir):
    service = load_compose("""
        services:
          app:
            build:
              context: ./app
              dockerfile: Dockerfile.dev
              args: [VERSION=2, MODE=test]
    """).services["app"]
    assert service.build == BuildSpec(
        context="./app", dockerfile="Dockerfile.dev", args={"VERSION": "2", "MODE": "test"}
    )


def test_unsupported_build_key(compose_error, app_dir):
    message = compose_error("""
        services:
          app:
            build:
              context: ./app
              target: dev
    """)
    assert message == (
        "docker-compose.yml:3: services.app.build: build key(s) target not supported "
        "(supported: context, dockerfile, args)"
    )


# --- environment -------------------------------------------------------------------------------------------------


def test_environment_as_a_list(load_compose, monkeypatch):
    monkeypatch.setenv("FROM_HOST", "host value")
    monkeypatch.delenv("NOT_ON_HOST", raising=False)
    service = load_compose("""
        services:
          db:
            image: x
            environment:
              - USER=app
              - EMPTY=
              - URL=postgres://db/app?a=b
              - FROM_HOST
              - NOT_ON_HOST
    """).services["db"]
    assert service.environment == {
        "USER": "app", "EMPTY": "", "URL": "postgres://db/app?a=b", "FROM_HOST": "host value", "NOT_ON_HOST": "",
    }


def test_environment_as_a_map(load_compose, monkeypatch):
    monkeypatch.setenv("FROM_HOST", "host value")
    service = load_compose("""
        services:
          db:
            image: x
            environment:
              USER: app
              PORT: 5432
              DEBUG: true
              FROM_HOST:
    """).services["db"]
    assert service.environment == {"USER": "app", "PORT": "5432", "DEBUG": "true", "FROM_HOST": "host value"}


def test_environment_of_another_type(compose_error):
    message = compose_error("""
        services:
          db:
            image: x
            environment: USER=app
    """)
    assert message == "docker-compose.yml:4: services.db.environment: environment is a list of NAME=value or a mapping"


# --- ports -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "port",
    ['"8080:80"', '"127.0.0.1:8080:80"', "80", '"80"', '"80/tcp"', '"8080:80/tcp"', "{target: 80}",
     "{target: 80, published: 8080}"],
)
def test_port_forms_give_the_container_port(load_compose, port):
    spec = load_compose(f"""
        services:
          web:
            image: x
            ports:
              - {port}
    """)
    assert spec.services["web"].ports == [80]


def test_expose_adds_to_ports(load_compose):
    spec = load_compose("""
        services:
          web:
            image: x
            ports: ["8080:80"]
            expose: ["9000"]
    """)
    assert spec.services["web"].ports == [80, 9000]


@pytest.mark.parametrize("port", ["53:53/udp", "53/udp", "3000-3005", "8080:http"])
def test_unsupported_port(compose_error, port):
    message = compose_error(f"""
        services:
          dns:
            image: x
            ports:
              - "{port}"
    """)
    assert message == (
        f"docker-compose.yml:5: services.dns.ports[0]: port '{port}' is not supported "
        "(a TCP container port such as '8080:80' or 80)"
    )


def test_udp_port_in_long_form_is_not_supported(compose_error):
    message = compose_error("""
        services:
          dns:
            image: x
            ports:
              - target: 53
                protocol: udp
    """)
    assert message == (
        "docker-compose.yml:5: services.dns.ports[0]: port {'target': 53, 'protocol': 'udp'} is not supported "
        "(a TCP container port such as '8080:80' or 80)"
    )


# --- depends_on --------------------------------------------------------------------------------------------------


def test_depends_on_list(load_compose):
    spec = load_compose("""
        services:
          db:
            image: x
          cache:
            image: x
          api:
            image: x
            depends_on: [db, cache]
    """)
    assert spec.services["api"].depends_on == ["db", "cache"]


@pytest.mark.parametrize("condition", ["service_healthy", "service_started"])
def test_depends_on_map_with_a_supported_condition(load_compose, condition):
    spec = load_compose(f"""
        services:
          db:
            image: x
          api:
            image: x
            depends_on:
              db:
                condition: {condition}
    """)
    assert spec.services["api"].depends_on == ["db"]


def test_depends_on_map_without_a_condition(load_compose):
    spec = load_compose("""
        services:
          db:
            image: x
          api:
            image: x
            depends_on:
              db: {}
    """)
    assert spec.services["api"].depends_on == ["db"]


def test_depends_on_map_entry_without_options(load_compose):
    spec = load_compose("""
        services:
          db:
            image: x
          api:
            image: x
            depends_on:
              db:
    """)
    assert spec.services["api"].depends_on == ["db"]


def test_unsupported_depends_on_condition(compose_error):
    message = compose_error("""
        services:
          migrate:
            image: x
          api:
            image: x
            depends_on:
              migrate:
                condition: service_completed_successfully
    """)
    assert message == (
        "docker-compose.yml:7: services.api.depends_on.migrate: depends_on condition 'service_completed_successfully' "
        "is not supported (supported: service_healthy, service_started)"
    )


def test_depends_on_of_another_type(compose_error):
    message = compose_error("""
        services:
          db:
            image: x
          api:
            image: x
            depends_on: db
    """)
    assert message == (
        "docker-compose.yml:6: services.api.depends_on: depends_on is a list of services or a mapping of "
        "service -> {condition: ...}"
    )


def test_depends_on_typo_in_a_list_suggests_the_service(compose_error):
    message = compose_error("""
        services:
          postgres:
            image: postgres:16
          dataservice:
            image: x
            depends_on:
              - postgress
    """)
    assert message == (
        "docker-compose.yml:7: services.dataservice.depends_on[0]: 'postgress' is not a service "
        "(did you mean 'postgres'?)"
    )


def test_depends_on_typo_in_a_map_suggests_the_service(compose_error):
    message = compose_error("""
        services:
          postgres:
            image: postgres:16
          cache:
            image: redis:7
          dataservice:
            image: x
            depends_on:
              cache: {condition: service_started}
              postgress:
                condition: service_healthy
    """)
    assert message == (
        "docker-compose.yml:10: services.dataservice.depends_on[1]: 'postgress' is not a service "
        "(did you mean 'postgres'?)"
    )


def test_dependency_cycle_in_compose(compose_error):
    message = compose_error("""
        services:
          a:
            image: x
            depends_on: [b]
          b:
            image: x
            depends_on: [a]
    """)
    assert message == "docker-compose.yml:4: services.a.depends_on: dependency cycle: a -> b -> a"


# --- healthcheck -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("test", "command"),
    [
        ('["CMD", "pg_isready", "-U", "app"]', ["pg_isready", "-U", "app"]),
        ('["CMD-SHELL", "pg_isready -U app"]', ["/bin/sh", "-c", "pg_isready -U app"]),
        ('["CMD-SHELL", "curl", "-f", "http://localhost"]', ["/bin/sh", "-c", "curl -f http://localhost"]),
        ('"curl -f http://localhost || exit 1"', ["/bin/sh", "-c", "curl -f http://localhost || exit 1"]),
    ],
    ids=["CMD", "CMD-SHELL", "CMD-SHELL-split", "string"],
)
def test_healthcheck_becomes_a_command_probe(load_compose, test, command):
    spec = load_compose(f"""
        services:
          db:
            image: x
            healthcheck:
              test: {test}
              interval: 5s
              retries: 3
    """)
    assert spec.services["db"].ready == ReadyProbe(command=command)


@pytest.mark.parametrize("healthcheck", ['{test: ["NONE"]}', "{disable: true}"], ids=["NONE", "disable"])
def test_disabled_healthcheck_means_no_probe(load_compose, healthcheck):
    spec = load_compose(f"""
        services:
          db:
            image: x
            healthcheck: {healthcheck}
    """)
    assert spec.services["db"].ready is None


def test_unsupported_healthcheck_test(compose_error):
    message = compose_error("""
        services:
          db:
            image: x
            healthcheck:
              test: ["RUN", "true"]
    """)
    assert message == (
        "docker-compose.yml:5: services.db.healthcheck.test: healthcheck test ['RUN', 'true'] is not supported "
        "(use [\"CMD\", ...], [\"CMD-SHELL\", \"...\"] or a string)"
    )


def test_unsupported_healthcheck_key(compose_error):
    message = compose_error("""
        services:
          db:
            image: x
            healthcheck:
              test: ["CMD", "true"]
              tries: 3
    """)
    assert message == (
        "docker-compose.yml:4: services.db.healthcheck: healthcheck key(s) tries not supported "
        "(supported: disable, interval, retries, start_interval, start_period, test, timeout)"
    )


def test_healthcheck_cmd_without_a_command_is_an_error(write):
    file = write("""
        services:
          db:
            image: x
            healthcheck:
              test: ["CMD"]
    """, COMPOSE)
    with pytest.raises(TopologyFileError) as info:
        load_topology(file)
    assert info.value.location == "docker-compose.yml:5"


# --- networks and volumes ----------------------------------------------------------------------------------------


def test_network_aliases(load_compose):
    spec = load_compose("""
        services:
          web:
            image: x
            networks:
              front:
                aliases: [www, web.local]
              back:
                aliases: [web-internal]
              other:
    """)
    assert spec.services["web"].aliases == ["www", "web.local", "web-internal"]


def test_network_list_gives_no_aliases(load_compose):
    spec = load_compose("""
        services:
          web:
            image: x
            networks: [front, back]
    """)
    assert spec.services["web"].aliases == []


@pytest.mark.parametrize(
    "volume",
    ["./conf:/etc/conf:ro", "./conf:/etc/conf", "{type: bind, source: ./conf, target: /etc/conf}"],
    ids=["short-ro", "short", "long"],
)
def test_bind_mount_volume_becomes_a_mount(load_compose, conf_dir, volume):
    spec = load_compose(f"""
        services:
          web:
            image: x
            volumes:
              - {volume}
    """)
    assert spec.services["web"].mounts == [Mount(source="./conf", target="/etc/conf")]


def test_writable_bind_mount_warns_that_mounts_are_read_only(load, conf_dir):
    with pytest.warns(ComposeKeyIgnored) as record:
        spec = load("""
            services:
              web:
                image: x
                volumes:
                  - ./conf:/etc/conf:rw
        """, COMPOSE)
    assert spec.services["web"].mounts == [Mount(source="./conf", target="/etc/conf")]
    assert [str(w.message) for w in record] == [
        "docker-compose.yml:5: services.web.volumes[0]: ignored by pytest-topology "
        "(mode 'rw': the harness mounts files read-only)"
    ]


@pytest.mark.parametrize("volume", ["data:/var/lib/postgresql/data", "/var/lib/postgresql/data"])
def test_named_or_anonymous_volume_is_an_error(compose_error, volume):
    message = compose_error(f"""
        services:
          db:
            image: x
            volumes:
              - {volume}
    """)
    assert message == (
        f"docker-compose.yml:5: services.db.volumes[0]: volume '{volume}' is not supported: only bind mounts of files "
        "next to the compose file ('./conf:/etc/conf:ro'); containers are thrown away after each run"
    )


def test_bind_mount_source_must_exist(compose_error, tmp_path):
    message = compose_error("""
        services:
          db:
            image: x
            volumes:
              - ./initdb:/docker-entrypoint-initdb.d
    """)
    assert message == (
        f"docker-compose.yml:5: services.db.mounts[0]: mount source './initdb' does not exist "
        f"(paths are relative to {tmp_path.resolve()})"
    )


# --- ignored and unsupported keys --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value", "why"),
    [
        ("restart", "always", "containers live only for the run"),
        ("container_name", "my-db", "names are per run so that runs do not collide"),
        ("hostname", "db.local", "services are reached by their service name"),
    ],
)
def test_ignored_key_warns_with_file_line_and_key(load, key, value, why):
    with pytest.warns(ComposeKeyIgnored) as record:
        spec = load(f"""
            services:
              db:
                image: postgres:16
                {key}: {value}
        """, COMPOSE)
    assert spec.services["db"].image == "postgres:16"
    assert [str(w.message) for w in record] == [
        f"docker-compose.yml:4: services.db.{key}: ignored by pytest-topology ({why})"
    ]


def test_each_ignored_key_warns_separately(load):
    with pytest.warns(ComposeKeyIgnored) as record:
        load("""
            services:
              db:
                image: postgres:16
                restart: always
                container_name: my-db
        """, COMPOSE)
    assert [str(w.message) for w in record] == [
        "docker-compose.yml:4: services.db.restart: ignored by pytest-topology (containers live only for the run)",
        "docker-compose.yml:5: services.db.container_name: ignored by pytest-topology "
        "(names are per run so that runs do not collide)",
    ]


@pytest.mark.parametrize(
    ("key", "why"),
    [("networks", "every run gets one private network"), ("volumes", "named volumes are not supported")],
)
def test_top_level_networks_and_volumes_are_ignored_with_a_warning(load, key, why):
    with pytest.warns(ComposeKeyIgnored) as record:
        load(f"""
            services:
              db:
                image: x
            {key}:
              data: {{}}
        """, COMPOSE)
    assert [str(w.message) for w in record] == [f"docker-compose.yml:4: {key}: ignored by pytest-topology ({why})"]


@pytest.mark.parametrize(
    ("key", "value"), [("privileged", "true"), ("network_mode", "host"), ("cap_add", "[NET_ADMIN]")]
)
def test_unsupported_key_is_an_error_listing_supported_keys(compose_error, key, value):
    message = compose_error(f"""
        services:
          db:
            image: x
            {key}: {value}
    """)
    assert message == (
        f"docker-compose.yml:4: services.db.{key}: compose key '{key}' is not supported by pytest-topology; "
        f"supported: {SUPPORTED}; ignored with a warning: {IGNORED}"
    )


def test_unknown_top_level_key(compose_error):
    message = compose_error("""
        services:
          db:
            image: x
        configs:
          app_config: {file: ./app.conf}
    """)
    assert message == (
        "docker-compose.yml:4: configs: top-level key 'configs' is not supported by pytest-topology "
        "(supported: services, name, version, networks, volumes, x-*)"
    )


def test_top_level_name_and_extension_keys(load_compose):
    spec = load_compose("""
        name: shop
        x-defaults: &defaults
          image: python:3.12
        services:
          api:
            <<: *defaults
            command: ["python", "-m", "api"]
    """)
    assert spec.project == "shop"
    assert spec.services["api"].image == "python:3.12"


def test_compose_file_without_services(compose_error):
    assert compose_error('version: "3.8"\n') == "docker-compose.yml:1: a compose file needs a 'services' mapping"


def test_service_that_is_not_a_mapping(compose_error):
    message = compose_error("""
        services:
          db: postgres:16
    """)
    assert message == "docker-compose.yml:2: services.db: a service is a mapping of compose keys"


# --- x-topology --------------------------------------------------------------------------------------------------


def test_x_topology_keys_pass_through(load_compose):
    service = load_compose("""
        services:
          api:
            image: x
            ports: ["8000:8000"]
            x-topology:
              ready:
                http: {port: 8000, path: /health}
              openapi: openapi.yaml
              timeout: 90
              consumes: [db]
          db:
            image: postgres:16
    """).services["api"]
    assert service.ready == ReadyProbe(http=HttpCheck(port=8000, path="/health"))
    assert service.openapi == "openapi.yaml"
    assert service.timeout == 90.0
    assert service.consumes == ["db"]


def test_x_topology_that_is_not_a_mapping(compose_error):
    message = compose_error("""
        services:
          api:
            image: x
            x-topology: [ready]
    """)
    assert message == (
        "docker-compose.yml:4: services.api.x-topology: x-topology holds pytest-topology service keys "
        "(ready, timeout, openapi, ...)"
    )


def test_x_topology_ready_wins_over_a_later_healthcheck(load_compose):
    service = load_compose("""
        services:
          db:
            image: x
            x-topology:
              ready: {tcp: 5432}
            healthcheck:
              test: ["CMD", "pg_isready"]
    """).services["db"]
    assert service.ready == ReadyProbe(tcp=5432)


def test_x_topology_ready_wins_over_an_earlier_healthcheck(load_compose):
    service = load_compose("""
        services:
          db:
            image: x
            healthcheck:
              test: ["CMD", "pg_isready"]
            x-topology:
              ready: {tcp: 5432}
    """).services["db"]
    assert service.ready == ReadyProbe(tcp=5432)


# --- validation errors point at the compose file -----------------------------------------------------------------


def test_validation_error_inside_x_topology_points_at_the_compose_line(compose_error):
    message = compose_error("""
        services:
          db:
            image: x
            x-topology:
              timeout: 30
              ready: {tpc: 5432}
    """)
    assert message == (
        "docker-compose.yml:6: services.db.ready.tpc: unknown key 'tpc' (did you mean 'tcp'?); "
        "allowed: http, tcp, log, times, command, interval"
    )


def test_service_without_image_or_build_points_at_the_service(compose_error):
    message = compose_error("""
        services:
          db:
            image: x
          worker:
            command: ["run"]
    """)
    assert message == (
        "docker-compose.yml:4: services.worker: needs exactly one of 'image' (an image name) "
        "or 'build' (a build context)"
    )


def test_port_out_of_range_points_at_the_ports_key(compose_error):
    message = compose_error("""
        services:
          db:
            image: x
            ports: ["70000"]
    """)
    assert message == (
        "docker-compose.yml:4: services.db.ports[0]: Input should be less than or equal to 65535 (found 70000)"
    )


def test_port_out_of_range_points_at_the_list_item(compose_error):
    message = compose_error("""
        services:
          db:
            image: x
            ports:
              - "8080:80"
              - "70000"
    """)
    assert message == (
        "docker-compose.yml:6: services.db.ports[1]: Input should be less than or equal to 65535 (found 70000)"
    )


def test_nested_x_topology_error_points_at_the_bad_key(compose_error):
    message = compose_error("""
        services:
          db:
            image: x
            x-topology:
              ready:
                http:
                  port: 80
                  pth: /health
    """)
    assert message == (
        "docker-compose.yml:8: services.db.ready.http.pth: unknown key 'pth' (did you mean 'path'?); "
        "allowed: port, path, status"
    )
