"""docker-compose files through load_topology: Docker Compose v2 reads them (`config`), the harness maps Compose's
canonical form onto the model. Detection, every mapped option, notes for keys ignored for a test run, Compose's
own errors (at file:line, with the near miss) and the cache. Line 1 is the first line of each YAML text.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from harness.errors import TopologyFileError
from harness.model import compose_cli
from harness.model.compose_values import duration
from harness.model.loader import is_compose_file, load_topology, parse_substitutes
from harness.model.parts import BuildSpec, Healthcheck, HttpCheck, Mount, ReadyProbe, Ulimit, VolumeMount
from harness.model.secrets import Masker
from harness.model.service import bound_again, run_network

COMPOSE = "docker-compose.yml"


@pytest.fixture(autouse=True)
def own_cache(tmp_path_factory, monkeypatch):
    """Each test has its own normalisation cache (and none of the host's COMPOSE_* settings)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))
    for name in [n for n in os.environ if n.startswith("COMPOSE_")]:
        monkeypatch.delenv(name)


@pytest.fixture
def load_compose(load):
    def load_compose(text: str, name: str = COMPOSE):
        return load(text, name)

    return load_compose


@pytest.fixture
def start_refusal(load_compose):
    """The message a start of the file refuses it with (Compose refuses these at `up`, not at `down`/`ps`/`logs`:
    the file is read for those)."""
    def start_refusal(text: str) -> str:
        spec = load_compose(text)
        assert spec.start_refusals
        with pytest.raises(TopologyFileError) as refused:
            spec.refuse_start()
        return str(refused.value)

    return start_refusal


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


@pytest.mark.parametrize("key", ["version", "networks", "volumes", "include", "secrets", "configs"])
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
    assert spec.services["db"].probe == ReadyProbe(command=["pg_isready"])
    assert spec.notes == ["stack.yaml: Docker Compose: the attribute `version` is obsolete, it will be ignored, "
                          "please remove it to avoid potential confusion"]


def test_a_topology_file_is_not_read_as_compose(load_error):
    message = load_error("""
        services:
          db:
            image: postgres:16
            restart: always
    """, "topology.yaml")
    assert message.splitlines() == [
        "topology.yaml:4: services.db.restart: unknown key 'restart' (a Docker Compose key)",
        "topology.yaml: this file is read as a pytest-topology file, not by Docker Compose: its name is not "
        "compose*.yaml or docker-compose*.yaml, and it has none of the top-level keys only compose files have "
        "(version, networks, volumes, include, secrets, configs); to have it read as a compose file, name it "
        "compose.yaml (or compose.NAME.yaml, docker-compose.yaml); the keys of a pytest-topology file: "
        "docs/guides/topology-file.md"]


# --- what Compose does: interpolation, $$, .env, env_file, profiles, anchors, extends ------------------------------


def test_variables_from_dotenv_the_environment_and_defaults(load_compose, tmp_path, monkeypatch):
    (tmp_path / ".env").write_text("DB_NAME=orders\nTAG=15\n")
    monkeypatch.setenv("TAG", "16")  # the shell wins over .env, as in Compose
    monkeypatch.delenv("DB_PASSWORD", raising=False)
    service = load_compose("""
        services:
          db:
            image: postgres:${TAG}
            environment:
              POSTGRES_DB: ${DB_NAME}
              POSTGRES_PASSWORD: ${DB_PASSWORD:-devpass}
    """).services["db"]
    assert service.image == "postgres:16"
    assert service.environment == {"POSTGRES_DB": "orders", "POSTGRES_PASSWORD": "devpass"}


def test_double_dollar_reaches_the_container_as_one_dollar(load_compose):
    service = load_compose("""
        services:
          cache:
            image: redis:7
            healthcheck:
              test: redis-cli -a "$$REDIS_PASSWORD" ping
    """).services["cache"]
    assert service.healthcheck.test == ["CMD-SHELL", 'redis-cli -a "$REDIS_PASSWORD" ping']
    assert service.probe == ReadyProbe(command=["/bin/sh", "-c", 'redis-cli -a "$REDIS_PASSWORD" ping'])


def test_env_file_then_environment(load_compose, tmp_path):
    (tmp_path / "test.env").write_text("# comment\nA=from-file\nB=from-file\n")
    service = load_compose("""
        services:
          app:
            image: x
            env_file: [./test.env]
            environment:
              B: from-environment
    """).services["app"]
    assert service.environment == {"A": "from-file", "B": "from-environment"}


def test_a_variable_named_without_a_value_comes_from_the_environment_or_is_left_out(load_compose, monkeypatch):
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
    assert service.environment == {"USER": "app", "EMPTY": "", "URL": "postgres://db/app?a=b", "FROM_HOST": "host value"}


def test_environment_values_as_text(load_compose):
    service = load_compose("""
        services:
          db:
            image: x
            environment:
              PORT: 5432
              DEBUG: "true"
    """).services["db"]
    assert service.environment == {"PORT": "5432", "DEBUG": "true"}


def test_profiles_leave_out_services_unless_enabled(write):
    file = write("""
        services:
          api:
            image: x
          debug-ui:
            image: x
            profiles: [debug]
    """, COMPOSE)
    assert list(load_topology(file).services) == ["api"]
    assert list(load_topology(file, profiles=["debug"]).services) == ["api", "debug-ui"]


def test_env_file_option_replaces_dotenv(write, tmp_path, monkeypatch):
    monkeypatch.delenv("TAG", raising=False)
    (tmp_path / ".env").write_text("TAG=1\n")
    (tmp_path / "ci.env").write_text("TAG=2\n")
    file = write("services:\n  a:\n    image: x:${TAG}\n", COMPOSE)
    assert load_topology(file).services["a"].image == "x:1"
    assert load_topology(file, env_file=tmp_path / "ci.env").services["a"].image == "x:2"


def test_a_relative_env_file_is_relative_to_the_current_folder_as_composes(tmp_path, monkeypatch):
    """`--topology-env-file ci.env` is Compose's `--env-file ci.env`: the current folder's, not the compose file's."""
    import subprocess

    from harness.errors import HarnessError

    monkeypatch.delenv("TAG", raising=False)
    (tmp_path / "sub").mkdir()
    file = tmp_path / "sub" / "compose.yaml"
    file.write_text("services:\n  a:\n    image: x:${TAG}\n")
    (tmp_path / "sub" / "ci.env").write_text("TAG=beside-the-file\n")
    (tmp_path / "ci.env").write_text("TAG=current-folder\n")
    monkeypatch.chdir(tmp_path)
    composed = subprocess.run([compose_cli.compose().path, "-f", str(file), "--env-file", "ci.env", "config"],
                              capture_output=True, text=True, check=True).stdout
    assert "image: x:current-folder" in composed  # the plain tool
    assert load_topology(file, env_file=Path("ci.env")).services["a"].image == "x:current-folder"
    (tmp_path / "ci.env").unlink()
    with pytest.raises(HarnessError) as error:
        load_topology(file, env_file=Path("ci.env"))
    assert str(tmp_path / "ci.env") in str(error.value)  # not sub/ci.env, which Compose does not read either


def test_merge_keys_take_the_fragment_compose_takes(load_compose):
    spec = load_compose("""
        name: shop
        x-base: &base
          image: python:3.12
          environment: {A: base}
        x-other: &other
          environment: {A: other}
        services:
          api:
            <<: [*base, *other]
            command: ["python", "-m", "api"]
    """)
    assert spec.name == "shop"
    assert spec.services["api"].image == "python:3.12"
    assert spec.services["api"].environment == {"A": "base"}  # the first mapping of a merge list wins


def test_extends_from_another_file(load_compose, write):
    write("""
        services:
          base:
            image: python:3.12
            environment: {FROM: base}
    """, "common.yml")
    service = load_compose("""
        services:
          api:
            extends: {file: common.yml, service: base}
            command: [run]
    """).services["api"]
    assert (service.image, service.environment, service.command) == ("python:3.12", {"FROM": "base"}, ["run"])


# --- names -------------------------------------------------------------------------------------------------------


def test_the_folder_name_is_made_valid_as_compose_does(tmp_path):
    folder = tmp_path / "My Project (copy)"
    folder.mkdir()
    (folder / COMPOSE).write_text("services:\n  a:\n    image: x\n")
    assert load_topology(folder / COMPOSE).name == "myprojectcopy"


def test_a_topology_file_name_is_made_valid_too(load):
    assert load("name: Shop Tests\nservices:\n  a:\n    image: x\n").name == "shoptests"


# --- image, build, command, entrypoint ---------------------------------------------------------------------------


def test_image_command_and_entrypoint_as_compose_splits_them(load_compose):
    service = load_compose("""
        services:
          db:
            image: postgres:16
            command: postgres -c "fsync=off"
            entrypoint: >
              /bin/sh -c "exec docker-entrypoint.sh postgres"
    """).services["db"]
    assert service.image == "postgres:16"
    assert service.command == ["postgres", "-c", "fsync=off"]
    assert service.entrypoint == ["/bin/sh", "-c", "exec docker-entrypoint.sh postgres"]


def test_build_beside_image_keeps_the_image_name_as_a_tag(load_compose, app_dir):
    service = load_compose("""
        services:
          app:
            build: ./app
            image: shop-app:dev
    """).services["app"]
    assert service.build == BuildSpec(context=str(app_dir))
    assert service.image == "shop-app:dev"


def test_build_mapping_with_args_as_a_list_and_a_target(load_compose, app_dir):
    service = load_compose("""
        services:
          app:
            build:
              context: ./app
              dockerfile: Dockerfile.dev
              args: [VERSION=2, MODE=test]
              target: test
    """).services["app"]
    assert service.build == BuildSpec(context=str(app_dir), dockerfile="Dockerfile.dev",
                                      args={"VERSION": "2", "MODE": "test"}, target="test")


def test_every_build_key_compose_gives_is_mapped(load_compose, app_dir, tmp_path, monkeypatch):
    (tmp_path / "token.txt").write_text("s3cret\n")
    (tmp_path / "extra").mkdir()
    monkeypatch.setenv("NPM_TOKEN", "abc")
    spec = load_compose("""
        services:
          app:
            image: shop-app:dev
            platform: linux/amd64
            build:
              context: ./app
              dockerfile_inline: |
                FROM scratch AS base
                ARG GREETING
                LABEL greeting=$${GREETING}
              args: {GREETING: hello}
              target: base
              labels: [team=shop]
              extra_hosts: ["billing.local=10.1.2.3", "mail.local:10.1.2.4"]
              network: host
              shm_size: 64m
              isolation: default
              no_cache: true
              pull: false
              tags: [shop-app:extra]
              ssh: [default]
              secrets: [token, {source: npm, target: npmrc}]
              additional_contexts: {extra: ./extra}
              privileged: true
              entitlements: [network.host]
              ulimits: {nofile: {soft: 100, hard: 200}, nproc: 50}
        secrets:
          token: {file: ./token.txt}
          npm: {environment: NPM_TOKEN}
    """)
    build = spec.services["app"].build
    assert build == BuildSpec(
        context=str(app_dir), dockerfile_inline="FROM scratch AS base\nARG GREETING\nLABEL greeting=${GREETING}\n",
        args={"GREETING": "hello"}, target="base", labels={"team": "shop"},
        extra_hosts=["billing.local:10.1.2.3", "mail.local:10.1.2.4"], network="host", shm_size=64 * 1024 * 1024,
        isolation="default", no_cache=True, tags=["shop-app:extra"], platform="linux/amd64", ssh=["default"],
        secrets=[{"source": "token", "file": str(tmp_path / "token.txt")},
                 {"source": "npm", "target": "npmrc", "environment": "NPM_TOKEN"}],
        additional_contexts={"extra": str(tmp_path / "extra")}, privileged=True, entitlements=["network.host"],
        ulimits={"nofile": Ulimit(soft=100, hard=200), "nproc": 50})
    assert build.buildkit_keys() == ["ssh", "secrets", "additional_contexts", "privileged", "entitlements", "ulimits",
                                     "shm_size"]
    assert spec.notes == []


def test_build_keys_ignored_for_a_test_run_are_noted(load_compose, app_dir):
    spec = load_compose("""
        services:
          app:
            build:
              context: ./app
              cache_from: [shop-app:cache]
              cache_to: [type=inline]
              provenance: true
              sbom: false
    """)
    assert spec.services["app"].build == BuildSpec(context=str(app_dir))
    assert spec.notes == [
        "docker-compose.yml:5: services.app.build.cache_from: ignored for a test run (a cache source only changes how "
        "fast an image builds, not what it is)",
        "docker-compose.yml:6: services.app.build.cache_to: ignored for a test run (a cache export only changes how "
        "fast later builds are, not the image a test runs)",
        "docker-compose.yml:7: services.app.build.provenance: ignored for a test run (an attestation is metadata for "
        "a registry, not part of the image a test runs (Docker Compose refuses it on an engine without the "
        "containerd image store))"]


def test_every_build_value_that_cannot_be_built_is_in_one_error(compose_error, app_dir, tmp_path):
    message = compose_error("""
        services:
          app:
            build:
              context: ./app
              network: backend
              platforms: [linux/amd64, linux/arm64]
              secrets: [inline]
        secrets:
          inline: {external: true}
    """)
    tail = f" (in {tmp_path / COMPOSE}); remove it or move it to an override file that the test run does not use"
    assert message == (
        "docker-compose.yml:5: services.app.build.network: build network 'backend': Docker Compose's builder "
        "(BuildKit) refuses a network name (\"network mode not supported by buildkit\"), so does the harness: use "
        "default, host or none\n"
        "docker-compose.yml:6: services.app.build.platforms: build platforms linux/amd64, linux/arm64: a test run runs "
        "one image per service, of one platform (by construction); Docker Compose: builds one image for each, on a "
        "builder that can (not the engine's own without the containerd image store)\n"
        "docker-compose.yml:7: services.app.build.secrets[0]: build secret 'inline': only a `file:` or `environment:` "
        "secret can be given to a build (Docker Compose refuses it too)\n"
        f"(3 problems in {tmp_path / COMPOSE}: fix each, or move the keys pytest-topology cannot honour to an "
        "override file that the test run does not use)")
    assert tail not in message


def test_a_url_build_context_is_kept_as_compose_gives_it(load_compose):
    # no longer refused: Docker Compose's own build fetches it (harness.runtime.images), as under `docker compose up`
    spec = load_compose("""
        services:
          web:
            build: https://github.com/example/web.git#main
          api:
            build: {context: "git@github.com:example/api.git", dockerfile: Dockerfile.prod}
    """)
    web, api = spec.services["web"].build, spec.services["api"].build
    assert web is not None and (web.context, web.remote) == ("https://github.com/example/web.git#main", True)
    assert api is not None and (api.context, api.dockerfile, api.remote) == (
        "git@github.com:example/api.git", "Dockerfile.prod", True)


# --- every container option --------------------------------------------------------------------------------------


def test_container_options(load_compose, tmp_path):
    service = load_compose("""
        services:
          app:
            image: x
            working_dir: /srv
            user: "1000:1000"
            tmpfs: [/run, "/tmp:size=64m"]
            init: true
            cap_add: [NET_ADMIN]
            cap_drop: [ALL]
            privileged: true
            extra_hosts: ["db.local:10.0.0.1", "api.local=10.0.0.2", "many=10.0.0.3", "many=10.0.0.4", "v6=::1"]
            hostname: app1
            shm_size: 64m
            ulimits: {nofile: {soft: 1024, hard: 2048}, nproc: 512}
            sysctls: {net.core.somaxconn: 1024}
            stop_signal: SIGINT
            labels: {team: shop}
            platform: linux/amd64
    """).services["app"]
    assert (service.working_dir, service.user, service.init, service.privileged) == ("/srv", "1000:1000", True, True)
    assert service.tmpfs == ["/run", "/tmp:size=64m"]
    assert (service.cap_add, service.cap_drop) == (["NET_ADMIN"], ["ALL"])
    assert service.extra_hosts == {"db.local": "10.0.0.1", "api.local": "10.0.0.2", "many": ["10.0.0.3", "10.0.0.4"],
                                   "v6": "::1"}
    assert (service.hostname, service.shm_size, service.stop_signal) == ("app1", 64 * 1024 * 1024, "SIGINT")
    assert service.ulimits == {"nofile": Ulimit(soft=1024, hard=2048), "nproc": 512}
    assert service.sysctls == {"net.core.somaxconn": "1024"}
    assert (service.labels, service.platform) == ({"team": "shop"}, "linux/amd64")


@pytest.mark.parametrize(
    ("ports", "expected"),
    [
        ('["8080:80"]', [80]), ('["127.0.0.1:8080:80"]', [80]), ("[80]", [80]), ('["80/tcp"]', [80]),
        ("[{target: 80, published: 8080}]", [80]), ('["53:53/udp"]', ["53/udp"]),
        ('["3000-3002"]', [3000, 3001, 3002]), ("[{target: 53, protocol: udp}]", ["53/udp"]),
    ],
)
def test_ports_give_the_container_ports(load_compose, ports, expected):
    spec = load_compose(f"""
        services:
          web:
            image: x
            ports: {ports}
    """)
    assert spec.services["web"].ports == expected


def test_expose_adds_to_ports_and_ranges_stay_ranges(load_compose):
    service = load_compose("""
        services:
          web:
            image: x
            ports: ["8080:80"]
            expose: ["9000", "7000-7001"]
    """).services["web"]
    assert service.ports == [80, 9000, "7000-7001/tcp"]
    assert service.published() == [(80, "tcp"), (9000, "tcp"), (7000, "tcp"), (7001, "tcp")]


def test_port_compose_rejects(compose_error):
    assert compose_error("services:\n  web:\n    image: x\n    ports: ['8080:http']\n") == (
        "docker-compose.yml: Docker Compose: invalid containerPort: http")


@pytest.mark.parametrize(
    ("test", "command"),
    [
        ('["CMD", "pg_isready", "-U", "app"]', ["pg_isready", "-U", "app"]),
        ('["CMD-SHELL", "pg_isready -U app"]', ["/bin/sh", "-c", "pg_isready -U app"]),
        ('"curl -f http://localhost || exit 1"', ["/bin/sh", "-c", "curl -f http://localhost || exit 1"]),
    ],
    ids=["CMD", "CMD-SHELL", "string"],
)
def test_healthcheck_is_kept_and_is_the_probe(load_compose, test, command):
    service = load_compose(f"""
        services:
          db:
            image: x
            healthcheck:
              test: {test}
              interval: 1m30s
              timeout: 500ms
              retries: 3
              start_period: 2s
    """).services["db"]
    assert service.healthcheck == Healthcheck(test=["CMD", *command] if command[0] != "/bin/sh" else
                                              ["CMD-SHELL", command[2]], interval=90, timeout=0.5, retries=3,
                                              start_period=2)
    assert service.probe == ReadyProbe(command=command)


@pytest.mark.parametrize("healthcheck", ['{test: ["NONE"]}', "{disable: true}"], ids=["NONE", "disable"])
def test_disabled_healthcheck_means_none_and_no_probe(load_compose, healthcheck):
    service = load_compose(f"""
        services:
          db:
            image: x
            healthcheck: {healthcheck}
    """).services["db"]
    assert service.healthcheck == Healthcheck(test=["NONE"])
    assert service.probe is None


def test_healthcheck_test_compose_rejects(compose_error):
    message = compose_error("""
        services:
          db:
            image: x
            healthcheck:
              test: ["RUN", "true"]
    """)
    assert message == ('docker-compose.yml: Docker Compose: healthcheck.test must start either by "CMD", "CMD-SHELL" '
                       'or "NONE"')


def test_healthcheck_cmd_without_a_command_is_an_error(compose_error):
    message = compose_error("""
        services:
          db:
            image: x
            healthcheck:
              test: ["CMD"]
    """)
    assert message.startswith("docker-compose.yml:4: services.db.healthcheck: test is ['CMD', program, args")


@pytest.mark.parametrize(("text", "seconds"), [("1s", 1), ("1m30s", 90), ("500ms", 0.5), ("1h", 3600)])
def test_durations(text, seconds):
    assert duration(text) == seconds


# --- depends_on and jobs -----------------------------------------------------------------------------------------


def test_depends_on_list_and_conditions(load_compose):
    spec = load_compose("""
        services:
          db:
            image: x
          migrate:
            image: x
            depends_on: {db: {condition: service_healthy}}
          cache:
            image: x
          api:
            image: x
            depends_on:
              migrate: {condition: service_completed_successfully}
              cache: {condition: service_started}
    """)
    assert spec.services["api"].depends_on == ["cache", "migrate"]  # Compose orders them by name
    assert spec.services["migrate"].depends_on == ["db"]
    assert [name for name, s in spec.services.items() if s.job] == ["migrate"]


def test_an_optional_dependency_in_a_profile_that_is_off_is_dropped(load_compose):
    spec = load_compose("""
        services:
          tracing:
            image: x
            profiles: [debug]
          api:
            image: x
            depends_on:
              tracing: {condition: service_started, required: false}
    """)
    assert list(spec.services) == ["api"]
    assert spec.services["api"].depends_on == []


def test_depends_on_typo_suggests_the_service(compose_error):
    message = compose_error("""
        services:
          postgres:
            image: postgres:16
          dataservice:
            image: x
            depends_on:
              - postgress
    """)
    assert message == ('docker-compose.yml:6: Docker Compose: service "dataservice" depends on undefined service '
                       '"postgress": invalid compose project (did you mean service \'postgres\'?)')


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
    assert message == "docker-compose.yml: Docker Compose: dependency cycle detected: a -> b -> a"


# --- networks and volumes ----------------------------------------------------------------------------------------


def test_declared_networks_are_kept_per_service_with_aliases_and_addresses(load_compose):
    spec = load_compose("""
        services:
          web:
            image: x
            container_name: the-web
            networks:
              front:
                aliases: [www, web.local]
              back:
                aliases: [web-internal]
                ipv4_address: 172.30.5.10
                priority: 5
          db:
            image: x
            networks: [back]
          lone:
            image: x
        networks:
          front:
            labels: {team: shop}
            attachable: true
          back:
            internal: true
            ipam:
              config: [{subnet: 172.30.5.0/24, gateway: 172.30.5.1}]
          unused:
            external: true
    """)
    # Compose drops a network no service uses; `default` is there for the service that names none
    assert sorted(spec.networks) == ["back", "default", "front"]
    assert spec.networks["back"].internal and not spec.networks["front"].internal
    assert [(s.subnet, s.gateway) for s in spec.networks["back"].subnets] == [("172.30.5.0/24", "172.30.5.1")]
    assert spec.networks["front"].labels == {"team": "shop"}
    web = spec.services["web"]
    assert web.aliases == ["the-web"]  # container_name: on every network
    assert web.networks["front"].aliases == ["www", "web.local"]
    assert (web.networks["back"].aliases, web.networks["back"].ipv4_address) == (["web-internal"], "172.30.5.10")
    assert list(spec.service_networks("web")) == ["back", "front"]  # priority first, as Compose connects them
    assert list(spec.service_networks("db")) == ["back"] and list(spec.service_networks("lone")) == ["default"]
    assert spec.only_internal("db") and not spec.only_internal("web")
    assert spec.notes == []  # attachable: given to Docker as Compose gives it (Attachable), no longer noted
    assert spec.networks["front"].attachable and not spec.networks["back"].attachable


def test_a_file_without_networks_keeps_one_network_and_its_aliases(load_compose):
    spec = load_compose("""
        services:
          web:
            image: x
            networks:
              default:
                aliases: [www]
    """)
    assert spec.networks == {} and spec.services["web"].networks == {}
    assert spec.services["web"].aliases == ["www"]


def test_an_external_network_is_used_by_its_name(load_compose):
    spec = load_compose("""
        services:
          web: {image: x, networks: [shared]}
        networks:
          shared: {external: true, name: corp-net}
    """)
    assert (spec.networks["shared"].external, spec.networks["shared"].name) == (True, "corp-net")


def test_an_ipam_driver_is_given_to_the_engine_as_compose_gives_it(load_compose):
    spec = load_compose("""
        services:
          web: {image: x, networks: [back, front]}
        networks:
          back: {attachable: true, ipam: {driver: other}}
          front: {}
    """)
    assert (spec.networks["back"].ipam_driver, spec.networks["front"].ipam_driver) == ("other", None)


def test_ipam_options_are_not_applied_as_compose_does_not_apply_them_with_a_note(load_compose):
    spec = load_compose("""
        services:
          web: {image: x, networks: [back]}
        networks:
          back:
            ipam:
              driver: default
              options: {foo: bar}
    """)
    assert spec.networks["back"].ipam_driver == "default"
    assert spec.notes == ["docker-compose.yml:7: networks.back.ipam.options: not applied, as Docker Compose does not "
                          "apply them (its `config` leaves them out: the network is created without IPAM options)"]


def test_a_fixed_address_needs_a_declared_subnet_that_holds_it(compose_error):
    message = compose_error("""
        services:
          web:
            image: x
            networks:
              back: {ipv4_address: 10.9.0.5}
              front: {ipv4_address: 172.30.6.300}
          api:
            image: x
            networks:
              front: {ipv4_address: 10.1.0.5}
        networks:
          back:
          front:
            ipam: {config: [{subnet: 172.30.6.0/24}]}
    """)
    assert message.splitlines() == [  # services in Compose's order (by name)
        "docker-compose.yml:10: services.api.networks.front.ipv4_address: 10.1.0.5 is not in a subnet of network "
        "'front' (172.30.6.0/24)",
        "docker-compose.yml:5: services.web.networks.back.ipv4_address: a fixed address needs a subnet of network "
        "'back' (Docker: user specified IP address is supported only when connecting to networks with user "
        "configured subnets); give it `ipam: {config: [{subnet: ...}]}`",
        "docker-compose.yml:6: services.web.networks.front.ipv4_address: '172.30.6.300' is not an IPv4 address",
    ]


def test_a_probe_from_here_on_a_service_only_on_internal_networks_is_refused(compose_error):
    message = compose_error("""
        services:
          db:
            image: x
            ports: ["6379"]
            networks: [back]
            x-topology: {ready: {tcp: 6379}}
        networks:
          back: {internal: true}
    """)
    assert message == ("docker-compose.yml:2: services.db: it is only on internal networks (back), so Docker "
                       "publishes none of its ports and its readiness probe (tcp :6379) cannot reach it from here; "
                       "probe it with a command inside it, or put it on a bridge network that is not internal too")


def test_a_probe_from_here_on_a_service_only_on_macvlan_networks_is_refused(compose_error):
    # Docker maps no ports on a macvlan or ipvlan network (Compose's `ports:` have no effect there)
    message = compose_error("""
        services:
          db:
            image: x
            ports: ["6379"]
            networks: [lan, back]
            x-topology: {ready: {tcp: 6379}}
        networks:
          lan: {driver: macvlan, driver_opts: {parent: eth0}}
          back: {internal: true}
    """)
    assert message == ("docker-compose.yml:2: services.db: it is only on macvlan networks, whose driver maps no ports "
                       "(back, lan), so Docker publishes none of its ports and its readiness probe (tcp :6379) cannot "
                       "reach it from here; probe it with a command inside it, or put it on a bridge network that is "
                       "not internal too")


def test_other_network_drivers_and_aux_addresses_are_given_as_compose_gives_them(load_compose):
    spec = load_compose("""
        services:
          web: {image: x, networks: [lan, mesh, back]}
          nic: {image: x, ports: ["80"], networks: [lan]}
        networks:
          lan: {driver: macvlan, driver_opts: {parent: eth0, macvlan_mode: bridge}}
          mesh: {driver: overlay, attachable: true}
          back:
            ipam:
              config: [{subnet: 10.9.8.0/24, aux_addresses: {router: 10.9.8.2, printer: 10.9.8.3}}]
    """)
    lan, mesh, back = (spec.networks[n] for n in ("lan", "mesh", "back"))
    assert (lan.driver, lan.options) == ("macvlan", {"parent": "eth0", "macvlan_mode": "bridge"})
    assert (mesh.driver, mesh.attachable) == ("overlay", True)
    assert (back.driver, back.subnets[0].aux_addresses) == ("bridge", {"router": "10.9.8.2", "printer": "10.9.8.3"})
    assert spec.no_ports_reason("web") is None  # on a bridge network too: its ports are published
    assert spec.no_ports_reason("nic") == "macvlan networks, whose driver maps no ports"


@pytest.mark.parametrize(("pool", "address", "expected"), [
    ("{subnet: 10.9.8.0/24, aux_addresses: {router: 10.9.9.2}}", "10.9.8.5",
     "docker-compose.yml:8: networks.back.ipam.config[0].aux_addresses.router: auxiliary address: (router:10.9.9.2) must belong to the master "
     "pool: 10.9.8.0/24 (Docker refuses the network, so Docker Compose cannot start it either)"),
    ("{subnet: 10.9.8.0/24, aux_addresses: {router: 10.9.8.5}}", "10.9.8.5",
     "docker-compose.yml:4: services.web.networks.back.ipv4_address: 10.9.8.5 is an auxiliary address of network "
     "'back' (aux_addresses.router), which the engine never gives a container (Docker: Address already in use; "
     "Docker Compose cannot start it either)"),
])
def test_an_aux_address_outside_its_subnet_or_taken_by_a_service_is_refused(compose_error, pool, address, expected):
    message = compose_error(f"""
        services:
          web:
            image: x
            networks: {{back: {{ipv4_address: {address}}}}}
        networks:
          back:
            ipam:
              config: [{pool}]
    """)
    assert message.startswith(expected), message


def test_healthcheck_timings_without_a_test_keep_the_image_s_test(load_compose):
    spec = load_compose("""
        services:
          timed: {image: x, healthcheck: {interval: 5s, retries: 3}}
          off: {image: x, healthcheck: {disable: true}}
          none: {image: x, healthcheck: {test: ["NONE"]}}
    """)
    timed = spec.services["timed"].healthcheck
    assert timed is not None and (timed.test, timed.interval, timed.retries) == (None, 5.0, 3)
    assert spec.services["timed"].probe is None  # the image's test: read from the container (Service.probe)
    assert [spec.services[n].healthcheck.test for n in ("off", "none")] == [["NONE"], ["NONE"]]


def test_sctp_ports_are_published_and_exposed_ones_noted(load_compose):
    spec = load_compose("""
        services:
          sig:
            image: x
            ports: ["9999:9999/sctp", {target: 3868, protocol: sctp}, "8080"]
            expose: ["2905/sctp", "7000"]
    """)
    assert spec.services["sig"].published() == [(9999, "sctp"), (3868, "sctp"), (8080, "tcp"), (7000, "tcp")]
    assert spec.notes == ["docker-compose.yml:5: services.sig.expose: SCTP ports of `expose:` are neither published "
                          "nor exposed by the harness (services of its networks reach them, as under Compose; publish "
                          "one with `ports:`)"]


def test_bind_mounts_keep_their_mode_read_write_by_default(load_compose, conf_dir):
    spec = load_compose("""
        services:
          web:
            image: x
            volumes:
              - ./conf:/etc/conf:ro
              - ./conf:/etc/rw
              - {type: bind, source: ./conf, target: /etc/long, read_only: true}
    """)
    # a bind without `create_host_path: false` may create its folder (the engine does, as for `docker compose up`)
    assert spec.services["web"].mounts == [
        Mount(source=str(conf_dir), target="/etc/conf", read_only=True, create_host_path=True),
        Mount(source=str(conf_dir), target="/etc/rw", read_only=False, create_host_path=True),
        Mount(source=str(conf_dir), target="/etc/long", read_only=True, create_host_path=True)]


def test_named_anonymous_and_tmpfs_volumes(load_compose):
    service = load_compose("""
        services:
          db:
            image: x
            volumes:
              - data:/var/lib/data
              - cache:/cache:ro
              - /anonymous
              - {type: tmpfs, target: /scratch, tmpfs: {size: 1000}}
              - {type: tmpfs, target: /shared, tmpfs: {size: 4m, mode: 0o1770}}
        volumes:
          data:
          cache:
    """).services["db"]
    assert service.volumes == [VolumeMount(source="data", target="/var/lib/data"),
                               VolumeMount(source="cache", target="/cache", read_only=True),
                               VolumeMount(target="/anonymous")]
    assert service.tmpfs == ["/scratch:size=1000", "/shared:size=4194304,mode=1770"]  # the mode was dropped


def test_a_missing_bind_folder_is_created_by_the_engine_unless_create_host_path_is_false(load_compose, start_refusal,
                                                                                         compose_error, tmp_path):
    # short syntax (and long syntax without `bind:`): Compose passes a `-v` bind and the engine creates the folder
    spec = load_compose("""
        services:
          db:
            image: x
            volumes:
              - ./initdb:/docker-entrypoint-initdb.d
    """)
    assert spec.services["db"].mounts[0].create_host_path
    # `create_host_path: false`: the mount API, which refuses a missing source (`docker compose up` fails too)
    message = start_refusal("""
        services:
          db:
            image: x
            volumes:
              - {type: bind, source: ./initdb, target: /init, bind: {create_host_path: false}}
    """)
    assert message == (
        f"docker-compose.yml:5: services.db.volumes[0]: bind source {tmp_path.resolve() / 'initdb'} does not exist, "
        "and `create_host_path: false` says not to create it (Docker Compose cannot start the service either)"
    )


def test_a_missing_secret_file_is_refused_at_its_line(start_refusal, tmp_path):
    assert start_refusal("""
        services:
          db:
            image: x
            secrets: [pw]
        secrets:
          pw: {file: ./missing.txt}
    """) == (f"docker-compose.yml:4: services.db.secrets[0]: secret 'pw': its file {tmp_path.resolve() / 'missing.txt'} "
             "does not exist (Docker Compose cannot start the service either)")


# --- ignored keys (one note each) and keys the harness cannot honour ----------------------------------------------


def test_each_ignored_key_is_one_note_with_file_line_and_key(load):
    spec = load("""
        services:
          db:
            image: postgres:16
            restart: always
            attach: false
            logging: {driver: json-file}
            deploy: {replicas: 1, placement: {constraints: ["node.role==manager"]}}
    """, COMPOSE)
    assert spec.notes == [
        "docker-compose.yml:5: services.db.attach: ignored for a test run (only decides whose logs `docker compose "
        "up` prints)",
        "docker-compose.yml:7: services.db.deploy.placement: ignored for a test run (a swarm setting: Docker "
        "Compose ignores it too when it starts containers)",
        "docker-compose.yml:6: services.db.logging: ignored for a test run (logs are read through the Docker API, "
        "from the engine's default log driver)",
        "docker-compose.yml:4: services.db.restart: ignored for a test run (containers live only for the run; a "
        "service that stops is reported, not restarted)",
    ]


TAIL = "(in {file}); remove it or move it to an override file that the test run does not use"


@pytest.mark.parametrize(("key", "value", "why"), [
    ("links", "[db]", None),
    ("provider", "{type: awesomecloud}", "a provider plugin runs outside Docker (by construction); Docker Compose: "
                                         "runs the provider's binary instead of a container"),
])
def test_a_key_the_harness_cannot_honour_is_an_error_naming_key_and_file(compose_error, tmp_path, key, value, why):
    message = compose_error(f"""
        services:
          db:
            image: x
            {key}: {value}
    """)
    tail = TAIL.format(file=tmp_path / COMPOSE)
    if key == "links":  # a link to a service that is not there: Compose's own message
        assert "undefined service" in message or "db" in message
    else:
        assert message == (f"docker-compose.yml:4: services.db.{key}: compose key '{key}' cannot be honoured by a "
                           f"test run: {why} {tail}")


def test_every_key_the_harness_cannot_honour_is_in_one_message_one_line_each(compose_error, tmp_path):
    message = compose_error("""
        services:
          db:
            image: x
            volumes: ["old:/data"]
          web:
            image: x
            deploy: {replicas: 3}
            ports: ["8080-8081:80"]
            provider: {type: awesomecloud}
        volumes:
          old: {external: true}
    """)
    assert [line.split(": ")[:2] for line in message.splitlines()[:-1]] == [
        ["docker-compose.yml:9", "services.web.provider"],
        ["docker-compose.yml:8", "services.web.ports[0]"],
    ]
    assert ("host port 8080-8081 for 3 replicas: Docker Compose fails to start replica 3 (\"port is already "
            "allocated\": each replica needs a host port of its own); give only the container port (80), or a range "
            "of at least 3 host ports") in message
    assert ("compose key 'provider' cannot be honoured by a test run: a provider plugin runs outside Docker (by "
            "construction); Docker Compose: runs the provider's binary instead of a container") in message
    assert message.splitlines()[-1] == (
        f"(2 problems in {tmp_path / COMPOSE}: fix each, or move the keys pytest-topology cannot honour to an "
        "override file that the test run does not use)")


def test_every_network_mode_compose_starts_is_kept_as_compose_gives_it(load):
    """host, container:NAME and a network's name are given to Docker as Compose gives them; a name Compose gives a
    network of the file (`PROJECT_KEY`, or its `name:`) is that network of the run; the key of a file's network named
    otherwise on the engine is the engine's network of that literal name, as Compose gives it; bridge and default are
    the run's own network."""
    spec = load("""
        name: shop
        services:
          web:
            image: x
            network_mode: host
            ports: ["8000"]
          sidecar:
            image: x
            network_mode: "container:legacy-db"
          outside:
            image: x
            network_mode: corporate-net
            ports: ["9000"]
          scoped:
            image: x
            network_mode: shop_back
          named:
            image: x
            network_mode: fixed-name
          by_key:
            image: x
            network_mode: front
          by_scoped_key:
            image: x
            network_mode: back
          plain:
            image: x
            network_mode: bridge
          member:
            image: x
            networks: [back, front]
        networks:
          back: {}
          front: {name: fixed-name}
    """, COMPOSE)
    modes = {name: service.network_mode for name, service in spec.services.items()}
    assert modes == {"web": "host", "sidecar": "container:legacy-db", "outside": "corporate-net", "scoped": "back",
                     "named": "front", "by_key": "front", "by_scoped_key": "back", "plain": None, "member": None}
    assert sorted(name for name, service in spec.services.items() if service.outside_network_mode) == [
        "by_key", "by_scoped_key"]
    assert {name: run_network(spec.services[name], spec.networks) for name in ("scoped", "named", "by_key")} == {
        "scoped": "back", "named": "front", "by_key": None}
    assert spec.services["web"].published() == [(8000, "tcp")]
    assert "docker-compose.yml:6: services.web.ports: published ports are discarded when using host network mode (as " \
           "Docker Compose warns): the service's ports are the engine machine's own" in spec.notes
    assert spec.namespace_outside_run("web") == "network_mode host: its network is the engine machine's own"
    assert spec.namespace_outside_run("sidecar") == ("network_mode container:legacy-db: its network is that of a "
                                                     "container outside the run")
    assert (spec.namespace_outside_run("outside"), spec.namespace_outside_run("member")) == (None, None)


def test_a_service_in_the_namespace_of_a_host_service_is_outside_the_run_too(load):
    spec = load("""
        services:
          web:
            image: x
            network_mode: host
          sidecar:
            image: x
            network_mode: "service:web"
    """, COMPOSE)
    assert spec.namespace_outside_run("sidecar") == "network_mode host: its network is the engine machine's own"


def test_a_container_namespace_publishes_no_ports_as_docker_refuses_them(compose_error):
    assert "a service with network_mode 'container:legacy' publishes no ports of its own (Docker refuses it)" in \
        compose_error("""
            services:
              sidecar:
                image: x
                network_mode: "container:legacy"
                ports: ["8000"]
        """)


def test_network_mode_none_and_of_a_service_of_the_run(load, compose_error):
    spec = load("""
        services:
          db:
            image: x
            ports: ["6379"]
          sidecar:
            image: x
            network_mode: "service:db"
          alone:
            image: x
            network_mode: none
    """, COMPOSE)
    assert (spec.services["sidecar"].network_mode, spec.services["sidecar"].depends_on) == ("service:db", ["db"])
    assert spec.services["alone"].network_mode == "none"
    assert "publishes no ports of its own" in compose_error("""
        services:
          alone:
            image: x
            network_mode: none
            ports: ["8000"]
    """)


def test_links_and_volumes_from_name_services_the_run_starts_first(load, compose_error):
    spec = load("""
        services:
          db:
            image: x
          app:
            image: x
            links: ["db:database", db]
            volumes_from: ["db:ro"]
    """, COMPOSE)
    app = spec.services["app"]
    assert (app.links, app.volumes_from, app.depends_on) == (["db:database", "db"], ["db"], ["db"])
    assert spec.notes == ["docker-compose.yml:7: services.app.volumes_from: ':ro' and ':rw' are not applied, as "
                          "Docker Compose does not apply them (it mounts the volumes as the other container has "
                          "them)"]
    outside = load("""
        services:
          app:
            image: x
            volumes_from: ["container:legacy:ro", "container:archive"]
    """, COMPOSE).services["app"]
    # a container outside the run is no dependency; Compose gives Docker its NAME alone (":ro" dropped)
    assert (outside.volumes_from, outside.depends_on) == (["container:legacy", "container:archive"], [])


def test_links_and_volumes_from_of_a_topology_file_are_dependencies(load_error):
    assert load_error("""
        services:
          db:
            image: x
          app:
            image: x
            links: ["db:database"]
            volumes_from: ["db:ro"]
    """, "topology.yaml").splitlines() == [
        "topology.yaml:6: services.app.links[0]: 'db' is not in depends_on of 'app' (links names services it "
        "depends on, which are started first)",
        "topology.yaml:7: services.app.volumes_from[0]: 'db' is not in depends_on of 'app' (volumes_from names "
        "services it depends on, which are started first)"]


def test_a_volume_driver_and_its_options_reach_the_model(load):
    spec = load("""
        services:
          db:
            image: x
            volumes: ["scratch:/scratch", "plain:/plain"]
        volumes:
          scratch:
            driver: local
            driver_opts: {type: tmpfs, device: tmpfs, o: "size=64m"}
            labels: {team: shop}
          plain:
    """, COMPOSE)
    assert {name: v.model_dump(exclude={"external", "name"}) for name, v in spec.volumes.items()} == {
        "scratch": {"driver": "local", "driver_opts": {"type": "tmpfs", "device": "tmpfs", "o": "size=64m"},
                    "labels": {"team": "shop"}}}
    assert spec.notes == []


def test_a_volume_name_of_its_own_is_noted_as_each_run_names_its_volumes(load):
    spec = load("""
        services:
          db:
            image: x
            volumes: ["data:/data", "plain:/plain", "kept:/kept"]
        volumes:
          data:
            name: shop-data
          plain:
          kept:
            external: true
            name: corp-kept
    """, COMPOSE)
    assert spec.notes == ["docker-compose.yml:7: volumes.data.name: each run names its own volumes (Docker Compose "
                          "would use the volume shop-data, shared with whatever else names it; a run's starts empty "
                          "and is removed with the run)"]


def test_host_keys_and_deploy_resources_reach_the_model_as_compose_gives_them(load):
    spec = load("""
        services:
          db:
            image: postgres:16
            dns: 10.0.0.2
            dns_search: example.com
            dns_opt: [ndots:2]
            security_opt: [no-new-privileges:true]
            read_only: true
            group_add: [audio, "1234"]
            devices: ["/dev/null:/dev/xnull:r"]
            domainname: example.org
            memswap_limit: 512m
            mem_swappiness: 10
            cpu_shares: 512
            cpuset: "0"
            oom_score_adj: 100
            blkio_config: {weight: 300, device_read_bps: [{path: /dev/sda, rate: 12mb}]}
            gpus: [{driver: nvidia, count: 1}]
            deploy:
              resources:
                limits: {cpus: "0.5", memory: 256m, pids: 100}
                reservations: {memory: 128m, cpus: "0.1"}
    """, COMPOSE)
    db = spec.services["db"]
    assert (db.dns, db.dns_search, db.dns_opt) == (["10.0.0.2"], ["example.com"], ["ndots:2"])
    assert (db.security_opt, db.read_only, db.group_add) == (["no-new-privileges:true"], True, ["audio", "1234"])
    assert (db.devices, db.domainname) == (["/dev/null:/dev/xnull:r"], "example.org")
    assert (db.mem_limit, db.memswap_limit, db.mem_reservation, db.mem_swappiness) == (
        256 * 2**20, 512 * 2**20, 128 * 2**20, 10)
    assert (db.cpus, db.pids_limit, db.cpu_shares, db.cpuset, db.oom_score_adj) == (0.5, 100, 512, "0", 100)
    assert db.blkio_config is not None and db.blkio_config.weight == 300
    assert [(r.path, r.rate) for r in db.blkio_config.device_read_bps] == [("/dev/sda", 12 * 2**20)]
    assert [(r.driver, r.count, r.capabilities) for r in db.device_requests] == [("nvidia", 1, ["gpu"])]
    assert spec.notes == []


def test_secrets_and_configs_are_mounted_or_written_where_compose_puts_them(load_compose, tmp_path, monkeypatch):
    (tmp_path / "db_password.txt").write_text("file-secret-value\n")
    monkeypatch.setenv("API_TOKEN", "env-secret-value")
    monkeypatch.setenv("EMPTY", "")
    spec = load_compose("""
        services:
          web:
            image: x
            secrets:
              - db_password
              - {source: api_token, target: token, uid: "1000", gid: "1001", mode: 0400}
              - {source: api_token, target: /etc/token}
              - empty
            configs:
              - app_conf
              - {source: file_conf, target: conf/app.ini, mode: 0600}
        secrets:
          db_password: {file: ./db_password.txt}
          api_token: {environment: API_TOKEN}
          empty: {environment: EMPTY}
        configs:
          app_conf: {content: "port=8000"}
          file_conf: {file: ./db_password.txt}
    """)
    web = spec.services["web"]
    source = str(tmp_path / "db_password.txt")
    assert web.mounts == [Mount(source=source, target="/conf/app.ini"),
                          Mount(source=source, target="/run/secrets/db_password")]
    assert [(f.target, f.content, f.uid, f.gid, oct(f.mode), f.secret) for f in web.files] == [
        # no owner given: root's, and the engine is not asked to apply one (as Compose copies it)
        ("/app_conf", "port=8000", None, None, "0o444", False),
        ("/run/secrets/token", "env-secret-value", 1000, 1001, "0o400", True),
        ("/etc/token", "env-secret-value", None, None, "0o444", True),
    ]
    assert spec.notes == ["docker-compose.yml:11: services.web.configs[1]: uid, gid and mode of a config from a file "
                          "are ignored, as Docker Compose ignores them (it mounts the file)"]
    masked = Masker(spec)("token env-secret-value, password file-secret-value, config port=8000")
    assert masked == "token [hidden], password [hidden], config port=8000"


def test_a_secret_from_an_unset_variable_is_refused_as_compose_refuses_it(start_refusal, monkeypatch):
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    assert start_refusal("""
        services:
          web:
            image: x
            secrets: [token]
        secrets:
          token: {environment: NOT_SET_ANYWHERE}
    """) == ("docker-compose.yml:4: services.web.secrets[0]: environment variable 'NOT_SET_ANYWHERE' required by "
             "secret 'token' is not set (Docker Compose refuses to start it too); set it, or put it in .env")


def test_what_only_a_start_refuses_is_refused_by_a_start_alone_all_at_once(load_compose, monkeypatch, tmp_path):
    # Compose's `down`, `ps`, `logs` and `config` read the file; its `up` refuses both, so a start says both at once
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    spec = load_compose("""
        services:
          web:
            image: x
            secrets: [token, pw]
        secrets:
          token: {environment: NOT_SET_ANYWHERE}
          pw: {file: ./missing.txt}
    """)
    assert spec.services["web"].files == [] and spec.services["web"].mounts == []
    with pytest.raises(TopologyFileError) as refused:
        spec.refuse_start()
    assert str(refused.value) == (
        "docker-compose.yml:4: services.web.secrets[0]: environment variable 'NOT_SET_ANYWHERE' required by secret "
        "'token' is not set (Docker Compose refuses to start it too); set it, or put it in .env\n"
        f"docker-compose.yml:4: services.web.secrets[1]: secret 'pw': its file {tmp_path.resolve() / 'missing.txt'} "
        "does not exist (Docker Compose cannot start the service either)")


def test_container_name_is_an_alias_and_bind_options_are_kept(load_compose, tmp_path):
    (tmp_path / "logs").mkdir()  # the mount API does not create it (nor does Compose); `./data` the engine creates
    (tmp_path / "strict").mkdir()
    spec = load_compose("""
        services:
          db:
            image: x
            container_name: shop-db
            networks:
              default: {aliases: [database]}
            volumes:
              - ./data:/data:z
              - {type: bind, source: ./logs, target: /logs, bind: {propagation: rslave}}
              - {type: bind, source: ./strict, target: /strict, bind: {create_host_path: false}}
    """)
    db = spec.services["db"]
    assert db.aliases == ["shop-db", "database"]
    assert db.mounts == [
        Mount(source=str(tmp_path / "data"), target="/data", read_only=False, create_host_path=True, selinux="z"),
        Mount(source=str(tmp_path / "logs"), target="/logs", read_only=False, create_host_path=False,
              propagation="rslave"),
        Mount(source=str(tmp_path / "strict"), target="/strict", read_only=False)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("services:\n  db:\n    imgae: x\n",
         "docker-compose.yml:3: services.db.imgae: unknown key 'imgae' (did you mean 'image'?)"),
        ("servics:\n  db:\n    image: x\n",
         "docker-compose.yml:1: servics: unknown key 'servics' (did you mean 'services'?)"),
        ("services:\n  db:\n    image: x\n    healthcheck:\n      test: [CMD, x]\n      tries: 3\n",
         "docker-compose.yml:6: services.db.healthcheck.tries: unknown key 'tries' (did you mean 'retries'?)"),
    ],
    ids=["service", "top", "healthcheck"],
)
def test_a_near_miss_key_gets_did_you_mean_at_its_line(compose_error, text, expected):
    message = compose_error(text)
    assert message.startswith(expected + " (Docker Compose: validating ")


def test_invalid_yaml_is_compose_error_at_its_line(compose_error):
    assert compose_error("services:\n  db:\n    image: x\n    ports: [\n") == (
        "docker-compose.yml:4: invalid YAML: did not find expected node content (Docker Compose)")


BROKEN_YAML = {  # name: (text, the line of the problem, Docker Compose v2.40's message)
    "tab": ("services:\n  web:\n    image: x\n\tports: ['80']\n", 4,
            "yaml: line 3: found a tab character that violates indentation"),
    "unclosed-quote": ('services:\n  web:\n    image: "x\n    command: y\n', 3,
                       "yaml: line 3: found unexpected end of stream"),
    "bad-mapping": ("services:\n  web:\n    image: x\n   command: y\n  db: z\n", 4,
                    "yaml: line 1: did not find expected key"),
    "unclosed-bracket": ("services:\n  web:\n    image: x\n    command: [a, b\n  db:\n    image: y\n", 4,
                         "yaml: line 3: did not find expected ',' or ']'"),
    "duplicate-key": ("services:\n  web:\n    image: x\n    image: y\n", 4,
                      'failed to parse {file}: line 4: mapping key "image" already defined at line 3'),
}


@pytest.mark.parametrize("kind", list(BROKEN_YAML))
def test_a_yaml_syntax_error_is_at_the_line_of_the_problem_whatever_the_file_is_called(compose_error, tmp_path,
                                                                                        kind):
    """Compose's YAML error at the line of the problem (where an unclosed `[` or quote began), the same line for a
    compose file named as Compose names one (Compose reads it first) and for one of another name (PyYAML reads it
    first); Compose's own words when its line differs: go-yaml counts some errors' lines from an earlier token."""
    text, line, said = BROKEN_YAML[kind]
    said = said.format(file=tmp_path / COMPOSE)
    compose_line = int(said.split("line ")[1].split(":")[0])
    first = compose_error(text)
    assert first.startswith(f"{COMPOSE}:{line}: invalid YAML: {said.rpartition(f'line {compose_line}: ')[2]} "), first
    assert first.endswith(f"(Docker Compose: {said})" if compose_line != line else "(Docker Compose)"), first
    assert compose_error(text, "stack.yaml").startswith(f"stack.yaml:{line}: "), compose_error(text, "stack.yaml")


def test_a_yaml_syntax_error_of_an_override_or_an_include_names_that_file(compose_error, write):
    """`-f a -f b`: Compose's `yaml: line N` does not say which file; an include's says `failed to parse FILE`."""
    write(BROKEN_YAML["tab"][0], "compose.override.yaml")
    overridden = write("services:\n  ok:\n    image: x\n", "compose.yaml")
    with pytest.raises(TopologyFileError) as error:
        load_topology([overridden, overridden.parent / "compose.override.yaml"])
    assert str(error.value) == ("compose.override.yaml:4: invalid YAML: found a tab character that violates "
                                "indentation (Docker Compose: yaml: line 3: found a tab character that violates "
                                "indentation)")
    assert compose_error("include:\n  - compose.override.yaml\nservices:\n  ok:\n    image: x\n") == (
        "compose.override.yaml:4: invalid YAML: found a tab character that violates indentation (Docker Compose: "
        f"failed to parse {overridden.parent / 'compose.override.yaml'}: yaml: line 3: found a tab character that "
        "violates indentation)")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("services:\n  db:\n    image: x\n    environment: USER=app\n",
         "docker-compose.yml:4: Docker Compose: validating {file}: services.db.environment must be a mapping"),
        ("services:\n  db: postgres:16\n", "docker-compose.yml:2: Docker Compose: services.db must be a mapping"),
        ("services:\n  worker:\n    command: [run]\n",
         'docker-compose.yml:2: Docker Compose: service "worker" has neither an image nor a build context '
         "specified: invalid compose project"),
        ("services:\n  a:\n    image: ${TAG:?set TAG to the image tag}\n",
         "docker-compose.yml:3: Docker Compose: error while interpolating services.a.image: required variable TAG is "
         "missing a value: set TAG to the image tag"),
    ],
    ids=["environment", "not-a-mapping", "no-image", "required-variable"],
)
def test_compose_errors_are_the_error(compose_error, tmp_path, monkeypatch, text, expected):
    monkeypatch.delenv("TAG", raising=False)
    assert compose_error(text) == expected.format(file=tmp_path / COMPOSE)


def test_every_missing_required_variable_is_named_in_file_order_every_run(compose_error, monkeypatch):
    """Compose stops at the first `${X:?msg}` it meets, and which one varies between runs: the error names all of
    them, in file order, the same every run (t23f trial); one set in the environment is not named."""
    for name in ("F23_TOKEN", "F23_PASSWORD", "F23_TAG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("F23_SET", "yes")
    text = ("services:\n  web:\n    image: x:${F23_TAG?set F23_TAG}\n    environment:\n"
            "      TOKEN: ${F23_TOKEN:?set F23_TOKEN in .env}\n      SET: ${F23_SET:?no}\n"
            "      DB_PASSWORD: ${F23_PASSWORD:?need a password}\n")
    expected = (
        "docker-compose.yml:3: Docker Compose: 3 required variables are missing a value:\n"
        "docker-compose.yml:3: error while interpolating services.web.image: required variable F23_TAG is missing a "
        "value: set F23_TAG\n"
        "docker-compose.yml:5: error while interpolating services.web.environment.TOKEN: required variable F23_TOKEN is "
        "missing a value: set F23_TOKEN in .env\n"
        "docker-compose.yml:7: error while interpolating services.web.environment.DB_PASSWORD: required variable "
        "F23_PASSWORD is missing a value: need a password")
    assert [compose_error(text) for _ in range(3)] == [expected] * 3


def test_every_missing_required_variable_outside_services_is_named_at_its_line(compose_error, tmp_path, monkeypatch):
    """`${X:?msg}` in `name:`, networks, volumes, secrets, configs and `include` (Compose says `include.[].path`): one
    message naming every one at its file:line, in file order, as for services; one in an included file at that
    file's line (Compose does not say which file)."""
    names = ("NAME", "WEB", "NET", "VOL", "SECRET", "CONF", "INC", "INNER")
    for name in names:
        monkeypatch.delenv(f"B23C_{name}", raising=False)
    (tmp_path / "shared.yaml").write_text("services:\n  shared:\n    image: ${B23C_INNER:?the shared image}\n")
    text = ("name: ${B23C_NAME:?name the project}\ninclude:\n  - path: shared.yaml\n"
            "  - path: ${B23C_INC:?which file}\nservices:\n  web:\n    image: x\n    labels:\n"
            "      com.example.owner: ${B23C_WEB:?who}\nnetworks:\n  front:\n    name: ${B23C_NET:?net}\n"
            "volumes:\n  data:\n    name: ${B23C_VOL:?vol}\nsecrets:\n  token:\n    file: ${B23C_SECRET:?secret}\n"
            "configs:\n  conf:\n    file: ${B23C_CONF:?conf}\n")
    expected = [
        "docker-compose.yml:1: Docker Compose: 8 required variables are missing a value:",
        "docker-compose.yml:1: error while interpolating name: required variable B23C_NAME is missing a value: name "
        "the project",
        "docker-compose.yml:4: error while interpolating include.[].path: required variable B23C_INC is missing a "
        "value: which file",
        "docker-compose.yml:9: error while interpolating services.web.labels.com.example.owner: required variable "
        "B23C_WEB is missing a value: who",
        "docker-compose.yml:12: error while interpolating networks.front.name: required variable B23C_NET is missing "
        "a value: net",
        "docker-compose.yml:15: error while interpolating volumes.data.name: required variable B23C_VOL is missing a "
        "value: vol",
        "docker-compose.yml:18: error while interpolating secrets.token.file: required variable B23C_SECRET is "
        "missing a value: secret",
        "docker-compose.yml:21: error while interpolating configs.conf.file: required variable B23C_CONF is missing a "
        "value: conf",
        "shared.yaml:3: error while interpolating services.shared.image: required variable B23C_INNER is missing a "
        "value: the shared image"]
    assert compose_error(text).splitlines() == expected


def test_one_missing_required_variable_outside_services_is_at_its_line(compose_error, monkeypatch):
    monkeypatch.delenv("B23C_NET", raising=False)
    assert compose_error("services:\n  web:\n    image: x\nnetworks:\n  front:\n    name: ${B23C_NET:?net}\n") == (
        "docker-compose.yml:6: Docker Compose: error while interpolating networks.front.name: required variable "
        "B23C_NET is missing a value: net")


def test_a_project_name_given_is_the_topologys_name_and_composes_project_name(write):
    """`-p NAME` (load_topology's project_name): Compose's `-p` for a compose file (its `${COMPOSE_PROJECT_NAME}`
    too), the `name:` of the harness's own format."""
    compose = write("name: shop\nservices:\n  a:\n    image: x:${COMPOSE_PROJECT_NAME}\n", COMPOSE)
    spec = load_topology(compose, project_name="f23-other")
    assert (spec.name, spec.services["a"].image) == ("f23-other", "x:f23-other")
    own = write("name: shop\nservices:\n  a: {image: x}\n")
    assert load_topology(own, project_name="f23-other").name == "f23-other"
    assert load_topology(own).name == "shop"


def test_a_bad_compose_file_exits_2(write):
    file = write("services:\n  db:\n    imgae: x\n", COMPOSE)
    with pytest.raises(TopologyFileError) as info:
        load_topology(file)
    assert info.value.exit_code == 2
    assert info.value.location == "docker-compose.yml:3"


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


def test_x_topology_ready_wins_over_the_healthcheck(load_compose):
    service = load_compose("""
        services:
          db:
            image: x
            healthcheck:
              test: ["CMD", "pg_isready"]
            x-topology:
              ready: {tcp: 5432}
    """).services["db"]
    assert service.probe == ReadyProbe(tcp=5432)
    assert service.healthcheck == Healthcheck(test=["CMD", "pg_isready"])  # still the container's own


def test_top_level_x_topology_gives_image_substitutes(load_compose):
    spec = load_compose("""
        services:
          db:
            image: x
        x-topology:
          image_substitutes: {"rabbitmq:latest": "my-rabbit:3"}
    """)
    assert spec.image_substitutes == {"rabbitmq:latest": "my-rabbit:3"}


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


# --- options and the cache ---------------------------------------------------------------------------------------


def test_image_substitutes_from_options_win_over_the_file(load_compose, write):
    file = write("services:\n  a:\n    image: x\nx-topology:\n  image_substitutes: {'a:1': b, 'c:1': d}\n", COMPOSE)
    spec = load_topology(file, image_substitutes={"a:1": "e"})
    assert spec.image_substitutes == {"a:1": "e", "c:1": "d"}


@pytest.mark.parametrize("value", ["rabbitmq", "=x", "x="])
def test_a_bad_substitute_option(value):
    with pytest.raises(Exception, match=r"--image-substitute .*expected IMAGE=SUBSTITUTE"):
        parse_substitutes([value])


def test_the_cache_is_used_until_a_file_or_a_variable_it_read_changes(write, tmp_path, monkeypatch):
    calls: list[Path] = []
    real = compose_cli._run_config
    monkeypatch.setattr(compose_cli, "_run_config", lambda file, *a: calls.append(file) or real(file, *a))
    monkeypatch.setenv("TAG", "1")
    (tmp_path / "app.env").write_text("A=1\n")
    file = write("services:\n  a:\n    image: x:${TAG}\n    env_file: app.env\n", COMPOSE)

    def image_and_env():
        service = load_topology(file).services["a"]
        return service.image, service.environment

    assert image_and_env() == ("x:1", {"A": "1"})
    assert image_and_env() == ("x:1", {"A": "1"})
    assert len(calls) == 1
    (tmp_path / "app.env").write_text("A=2\n")
    assert image_and_env() == ("x:1", {"A": "2"})
    monkeypatch.setenv("TAG", "2")
    assert image_and_env() == ("x:2", {"A": "2"})
    (tmp_path / ".env").write_text("UNRELATED=1\n")
    assert image_and_env() == ("x:2", {"A": "2"})
    assert len(calls) == 4


def test_the_compose_binary_is_found():
    binary = compose_cli.compose_binary()
    assert compose_cli._is_v2(binary)


def test_no_compose_binary_is_one_clear_error(monkeypatch, tmp_path, write):
    from harness.errors import ComposeUnavailable

    compose_cli.compose.cache_clear()
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(compose_cli, "_bundled", lambda: None)
    monkeypatch.setattr(compose_cli, "PLUGIN_DIRS", ())
    try:
        with pytest.raises(ComposeUnavailable, match="needs Docker Compose v2") as info:
            load_topology(write("services:\n  a:\n    image: x\n", COMPOSE))
        assert info.value.exit_code == 3
    finally:
        compose_cli.compose.cache_clear()


def test_compose_warnings_come_with_its_error(compose_error, monkeypatch):
    monkeypatch.delenv("API_IMAGE", raising=False)
    assert compose_error("services:\n  api:\n    image: ${API_IMAGE}\n") == (
        'docker-compose.yml:2: Docker Compose: service "api" has neither an image nor a build context specified: '
        'invalid compose project\n'
        '  Docker Compose warned: The "API_IMAGE" variable is not set. Defaulting to a blank string.')


def test_composes_own_errors_do_not_show_secret_interpolation_values(tmp_path: Path) -> None:
    """Compose quotes an interpolated value in its error; a secret-looking variable's value is hidden."""
    (tmp_path / ".env").write_text("PG_PASS=pgVAL-dotenv-6610\nPLAIN_PORT=notaport\n")
    (tmp_path / "compose.yml").write_text('services:\n  db:\n    image: redis:7\n    ports: ["${PG_PASS}"]\n')
    with pytest.raises(TopologyFileError) as raised:
        load_topology(tmp_path / "compose.yml")
    assert "invalid containerPort: [hidden]" in str(raised.value)
    assert "pgVAL-dotenv-6610" not in str(raised.value)


def test_volume_options_are_kept(load_compose):
    spec = load_compose("""
        services:
          db:
            image: x
            volumes:
              - data:/data:z
              - data:/seed:nocopy
              - {type: volume, source: data, target: /part, volume: {subpath: pg}}
        volumes:
          data:
    """)
    assert spec.services["db"].volumes == [VolumeMount(source="data", target="/data", selinux="z"),
                                           VolumeMount(source="data", target="/seed", nocopy=True),
                                           VolumeMount(source="data", target="/part", subpath="pg")]


def test_a_secret_owner_that_is_not_a_number_is_refused_as_compose_refuses_it(compose_error, monkeypatch):
    monkeypatch.setenv("API_KEY", "xyz-value")
    assert compose_error("""
        services:
          web:
            image: x
            secrets: [{source: api_key, uid: app}]
        secrets:
          api_key: {environment: API_KEY}
    """) == "docker-compose.yml:4: services.web.secrets[0]: uid and gid of secret 'api_key' must be numbers (got app:0)"


def test_alias_collisions_are_accepted_as_compose_accepts_them_with_a_note(load_compose):
    # docker-compose config (the oracle) accepts both: an alias that is another service's name, and a shared alias
    spec = load_compose("""
        services:
          a:
            image: redis:7
            networks:
              default:
                aliases: [b, shared]
          b:
            image: redis:7
          c:
            image: redis:7
            networks:
              default:
                aliases: [shared]
    """)
    assert spec.services["a"].aliases == ["b", "shared"]
    assert [note for note in spec.notes if "alias" in note] == [
        "services.a.aliases[0]: alias 'b' is the name of service 'b': Docker Compose accepts this, but the name "
        "reaches either container",
        "services.c.aliases[0]: alias 'shared' is also an alias of service 'a': Docker Compose accepts this, but the "
        "name reaches either container",
    ]


def test_a_topology_built_in_python_names_declared_networks_only():
    from harness import topology

    builder = (topology("shop", base_dir=Path.cwd()).service("web", image="x", networks=["frontend", "backend"])
               .networks({"front": {}, "backend": {"internal": True}}))
    with pytest.raises(TopologyFileError) as error:
        _ = builder.spec
    assert str(error.value) == ("topology 'shop': services.web.networks.frontend: 'frontend' is not a network of "
                                "the topology's `networks:` (did you mean 'front'?)")
    plain = topology("shop", base_dir=Path.cwd()).service("web", image="x", networks=["back"])
    with pytest.raises(TopologyFileError) as error:
        _ = plain.spec
    assert str(error.value) == ("topology 'shop': services.web.networks.back: 'back' is not a network of the "
                                "topology's `networks:`")


def test_compose_refuses_a_network_no_file_declares(compose_error):
    message = compose_error("""
        services:
          web: {image: x, networks: [frontend]}
    """)
    assert message == ('docker-compose.yml:2: Docker Compose: service "web" refers to undefined network frontend: '
                       "invalid compose project")


def test_a_topology_files_build_takes_compose_build_keys_and_its_refusals(load_error, app_dir):
    assert load_error("""
        services:
          a:
            build: {context: ./app, network: backend}
          b:
            build: {context: ./app, dockerfile: Dockerfile.dev, dockerfile_inline: "FROM scratch"}
    """, "topology.yaml") == (
        "topology.yaml:3: services.a.build: build network 'backend': Docker Compose's builder (BuildKit) refuses a "
        "network name (\"network mode not supported by buildkit\"); use default, host or none\n"
        "topology.yaml:5: services.b.build: dockerfile and dockerfile_inline exclude each other (as for Docker "
        "Compose): give one")


def test_healthcheck_start_interval_is_kept_for_the_engine_to_decide(load_compose):
    service = load_compose("""
        services:
          db:
            image: x
            healthcheck: {test: ["CMD", "true"], start_period: 30s, start_interval: 500ms}
    """).services["db"]
    assert service.healthcheck == Healthcheck(test=["CMD", "true"], start_period=30, start_interval=0.5)


def test_a_services_network_keeps_link_local_ips_driver_opts_interface_name_and_gw_priority(load_compose):
    spec = load_compose("""
        services:
          app:
            image: x
            networks:
              front:
                link_local_ips: ["169.254.8.8"]
                driver_opts: {com.docker.network.endpoint.sysctls: "net.ipv4.conf.IFNAME.log_martians=1", n: 1}
                interface_name: web0
                gw_priority: 7
        networks: {front: {}}
    """)
    front = spec.services["app"].networks["front"]
    assert (front.link_local_ips, front.driver_opts, front.interface_name, front.gw_priority) == (
        ["169.254.8.8"], {"com.docker.network.endpoint.sysctls": "net.ipv4.conf.IFNAME.log_martians=1", "n": "1"},
        "web0", 7)


def test_an_external_volume_is_the_engines_volume_of_its_name(load_compose):
    spec = load_compose("""
        services:
          db:
            image: x
            volumes: ["old:/data", "shared:/shared"]
        volumes:
          old: {external: true}
          shared: {external: true, name: team-shared}
    """)
    assert {name: (v.external, v.name) for name, v in spec.volumes.items()} == {
        "old": (True, "old"), "shared": (True, "team-shared")}


def test_external_links_are_kept_as_compose_writes_them(load_compose):
    service = load_compose("""
        services:
          app:
            image: x
            external_links: ["legacy-db:db", "cache"]
    """).services["app"]
    assert service.external_links == ["legacy-db:db", "cache"]


def test_a_note_on_a_key_from_extends_names_the_file_and_line_where_it_is_written(load_compose, write):
    """`restart` comes from common.yml's base (through a second `extends` in the same file), `attach` from the
    extending service itself: each note names the file and line where its key is written."""
    write("""
        services:
          root:
            image: python:3.12
            restart: always
          base:
            extends: root
            develop: {watch: [{path: ./src, action: sync, target: /app}]}
    """, "common.yml")
    spec = load_compose("""
        services:
          api:
            extends: {file: common.yml, service: base}
            attach: false
    """)
    assert spec.notes == [
        "docker-compose.yml:4: services.api.attach: ignored for a test run (only decides whose logs `docker "
        "compose up` prints)",
        "common.yml:7: services.api.develop: ignored for a test run (only read by `docker compose watch`)",
        "common.yml:4: services.api.restart: ignored for a test run (containers live only for the run; a service "
        "that stops is reported, not restarted)"]


def test_a_container_port_bound_twice_is_published_twice(load_compose):
    """Compose publishes 80/tcp on 8080 and on 8081 (and 53/udp on two addresses); so does the harness, each binding
    on a free port of its own, the first being the service's URL, without a note. An `expose:` of a port `ports:`
    binds adds no binding; the same binding twice is one (`config` merges them)."""
    spec = load_compose("""
        services:
          web:
            image: python:3.12
            ports: ["8080:80", "8081:80", "127.0.0.1:5353:53/udp", "127.0.0.2:5353:53/udp", "9000:90", "91", "91"]
            expose: ["80", "92"]
    """)
    web = spec.services["web"]
    assert web.published() == [(80, "tcp"), (53, "udp"), (90, "tcp"), (91, "tcp"), (92, "tcp")]
    assert bound_again(web) == [(80, "tcp"), (53, "udp")]
    assert web.container_settings()["ports"] == ["80/tcp", "53/udp", "90/tcp", "91/tcp", "92/tcp", "80/tcp",
                                                 "53/udp"]
    assert spec.notes == []


def test_extension_fields_are_accepted_wherever_compose_accepts_them(load_compose):
    """`x-*` keys on a service, in `deploy`, under a service's network and a top-level network (t23e): Compose starts
    the file and ignores them; so does the harness."""
    spec = load_compose("""
        services:
          api:
            image: python:3.11-slim
            x-traefik-rule: "Host(`api.local`)"
            deploy: {x-team: core, resources: {limits: {memory: 64M}}}
            networks:
              back: {x-comment: main, aliases: [svc]}
        networks:
          back: {x-managed-by: team}
    """)
    api = spec.services["api"]
    assert api.networks["back"].aliases == ["svc"] and api.mem_limit == 64 * 1024 * 1024


# --- empty values and terminals, as Compose sends them to Docker (issue 23, trial t23g) ---------------------------


def test_an_empty_entrypoint_or_command_reaches_docker_as_compose_sends_it(load_compose):
    """Compose's `config` keeps `entrypoint: []` and `""` (as []): Docker then runs no ENTRYPOINT, not the image's.
    `command: []` stays too (Docker runs the image's CMD for it, as for no command). Empty values of other keys
    Compose drops as unset."""
    spec = load_compose("""
        services:
          listed: {image: postgres:15, entrypoint: [], command: [sleep, infinity]}
          quoted: {image: postgres:15, entrypoint: "", command: ""}
          plain: {image: postgres:15, dns: [], cap_drop: [], user: ""}
    """)
    listed, quoted, plain = (spec.services[name] for name in ("listed", "quoted", "plain"))
    assert (listed.entrypoint, listed.command) == ([], ["sleep", "infinity"])
    assert (quoted.entrypoint, quoted.command) == ([], [])
    assert (plain.entrypoint, plain.command, plain.dns, plain.cap_drop, plain.user) == (None, None, [], [], None)


def test_tty_and_stdin_open_are_honoured_without_a_note(load_compose):
    spec = load_compose("""
        services:
          shell: {image: python:3.11-slim, command: bash, stdin_open: true, tty: true}
          app: {image: python:3.11-slim}
    """)
    assert (spec.services["shell"].tty, spec.services["shell"].stdin_open) == (True, True)
    assert (spec.services["app"].tty, spec.services["app"].stdin_open) == (False, False)
    assert spec.notes == []


@pytest.mark.parametrize(("keys", "restarted"), [
    ("restart: always", True), ("restart: unless-stopped", True), ("restart: on-failure:3", False),
    ("restart: \"no\"", False), ("deploy: {restart_policy: {condition: any}}", True),
    ("restart: always, deploy: {restart_policy: {condition: on-failure}}", False),  # deploy's wins, as Compose's
    ("deploy: {restart_policy: {condition: none}}", False), ("init: true", False),
])
def test_a_restart_policy_that_starts_an_ended_container_again_is_known(load_compose, keys, restarted):
    """Only for the message of a start that fails because the service ended: Compose would have it started again."""
    spec = load_compose(f"""
        services:
          web: {{image: redis:7, {keys}}}
    """)
    assert spec.services["web"].restarted_by_compose is restarted


def test_an_unset_variable_of_a_shared_env_file_is_one_note_at_its_lines(load_compose, write, monkeypatch):
    """Compose warns once per service that reads the env file, and names no place; the note is said once, at each
    line that interpolates the variable (a `$$` is a `$` as it is; a comment line is no reference)."""
    monkeypatch.delenv("def", raising=False)
    monkeypatch.delenv("nope", raising=False)
    write("""
        # the app's settings: $def here is a comment
        DEBUG=1
        SECRET_KEY_BASE=abc$def
        LITERAL=abc$$def
    """, "app.env")
    spec = load_compose("""
        services:
          web: {image: python:3.11-slim, env_file: app.env}
          worker: {image: python:3.11-slim, env_file: [app.env]}
          cron: {image: python:3.11-slim, env_file: ./app.env, environment: {TOKEN: "${nope:-}x${nope}"}}
    """)
    assert spec.notes == [  # in Compose's order: the file's own variables first
        'docker-compose.yml:4: Docker Compose: The "nope" variable is not set. Defaulting to a blank string.',
        'app.env:3: Docker Compose: The "def" variable is not set. Defaulting to a blank string.']
