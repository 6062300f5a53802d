"""Which engine is used, in Testcontainers' order, from fake home and Docker config folders (no engine needed)."""

from __future__ import annotations

import hashlib
import json
import socket
from pathlib import Path

import pytest

from harness import engine_source
from harness.engine_source import Engine, hub_image_prefix, resolve_engine
from harness.errors import DockerUnavailable
from harness.runtime.engine import connect, remote_engine, service_host, start_hint
from harness.runtime.images import substitute

VARIABLES = ("DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_CONFIG", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH", "TC_HOST",
             "TESTCONTAINERS_HOST_OVERRIDE", "TOPOLOGY_HOST", "TESTCONTAINERS_HUB_IMAGE_NAME_PREFIX")
PROPERTIES_ABSENT = "tc.host in ~/.testcontainers.properties (no such file)"
DEFAULT_CONTEXT = ("the Docker context (`default`, from no DOCKER_CONTEXT and no ~/.docker/config.json: the sources "
                   "after it)")
NO_DESKTOP = ("Docker Desktop's socket (~/.docker/run/docker.sock and ~/.docker/desktop/docker.sock: absent)")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(engine_source, "DEFAULT_SOCKET", str(tmp_path / "no-default.sock"))
    return tmp_path


def context(config: Path, name: str, host: str, *, tls: bool = False, skip_verify: bool = False) -> None:
    """What `docker context create NAME --docker host=HOST` writes."""
    meta = config / "contexts" / "meta" / hashlib.sha256(name.encode()).hexdigest()
    meta.mkdir(parents=True)
    (meta / "meta.json").write_text(json.dumps({"Name": name, "Metadata": {}, "Endpoints": {
        "docker": {"Host": host, "SkipTLSVerify": skip_verify}}}))
    if tls:
        material = config / "contexts" / "tls" / hashlib.sha256(name.encode()).hexdigest() / "docker"
        material.mkdir(parents=True)
        for file in ("ca.pem", "cert.pem", "key.pem"):
            (material / file).write_text("-")


def use(config: Path, name: str) -> None:
    config.mkdir(parents=True, exist_ok=True)
    (config / "config.json").write_text(json.dumps({"auths": {}, "currentContext": name}))


def test_nothing_configured_is_the_default_socket_after_every_source(home: Path) -> None:
    engine = resolve_engine()
    assert (engine.address, engine.source) == (f"unix://{home}/no-default.sock", "the default socket")
    assert engine.tried == (PROPERTIES_ABSENT, "DOCKER_HOST (not set)",
                            "docker.host in ~/.testcontainers.properties (no such file)", DEFAULT_CONTEXT, NO_DESKTOP)
    assert (remote_engine(), service_host()) == (None, "127.0.0.1")


def test_tc_host_wins_over_docker_host_and_docker_host_over_docker_host_property(
        home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Java properties syntax: escaped colons, `:` as separator, comments
    (home / ".testcontainers.properties").write_text(
        "# written by Testcontainers Desktop\ntc.host=tcp\\://127.0.0.1\\:49982\ndocker.host : tcp://10.0.0.9:2375\n")
    monkeypatch.setenv("DOCKER_HOST", "tcp://10.0.0.8:2375")
    assert resolve_engine() == Engine("tcp://127.0.0.1:49982", "tc.host in ~/.testcontainers.properties")
    assert (remote_engine(), service_host()) == (None, "127.0.0.1")
    (home / ".testcontainers.properties").write_text("docker.host=tcp://10.0.0.9:2375\n")
    engine = resolve_engine()
    assert (engine.address, engine.source) == ("tcp://10.0.0.8:2375", "DOCKER_HOST")
    assert engine.tried == ("tc.host in ~/.testcontainers.properties (not set)",)
    monkeypatch.delenv("DOCKER_HOST")
    engine = resolve_engine()
    assert (engine.address, engine.source) == ("tcp://10.0.0.9:2375", "docker.host in ~/.testcontainers.properties")
    assert engine.tried == ("tc.host in ~/.testcontainers.properties (not set)", "DOCKER_HOST (not set)")
    assert engine.docker_environment() == {"DOCKER_HOST": "tcp://10.0.0.9:2375"}
    assert (remote_engine(), service_host()) == ("10.0.0.9", "10.0.0.9")


def test_an_ssh_address_loses_its_trailing_slash_as_in_testcontainers(home: Path) -> None:
    (home / ".testcontainers.properties").write_text("docker.host=ssh://ci@build-box.example/\n")
    assert resolve_engine().address == "ssh://ci@build-box.example"
    assert remote_engine() == "build-box.example"


def test_the_current_context_with_its_tls_material(home: Path) -> None:
    config = home / ".docker"
    context(config, "remote-tls", "tcp://build-box.example:2376", tls=True)
    use(config, "remote-tls")
    engine = resolve_engine()
    tls = config / "contexts" / "tls" / hashlib.sha256(b"remote-tls").hexdigest() / "docker"
    assert engine == Engine("tcp://build-box.example:2376",
                            "Docker context 'remote-tls' from currentContext in ~/.docker/config.json",
                            context="remote-tls", tls_dir=str(tls), tls_verify=True)
    assert engine.tried[:3] == (PROPERTIES_ABSENT, "DOCKER_HOST (not set)",
                                "docker.host in ~/.testcontainers.properties (no such file)")
    assert engine.docker_environment() == {"DOCKER_HOST": "tcp://build-box.example:2376",
                                           "DOCKER_CERT_PATH": str(tls), "DOCKER_TLS_VERIFY": "1"}
    # the docker CLI and Compose get the context by name, never a DOCKER_HOST that would override it
    assert engine.cli_environment({"PATH": "/bin", "DOCKER_HOST": "x", "DOCKER_CERT_PATH": "y"}) == {
        "PATH": "/bin", "DOCKER_CONTEXT": "remote-tls"}
    assert (remote_engine(), service_host()) == ("build-box.example", "build-box.example")


def test_docker_context_and_docker_config_variables(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = home / "elsewhere"
    monkeypatch.setenv("DOCKER_CONFIG", str(config))
    context(config, "colima", f"unix://{home}/.colima/default/docker.sock")
    context(config, "insecure", "tcp://10.0.0.5:2376", tls=True, skip_verify=True)
    use(config, "colima")
    engine = resolve_engine()
    assert (engine.address, engine.source) == (f"unix://{home}/.colima/default/docker.sock",
                                               "Docker context 'colima' from currentContext in $DOCKER_CONFIG/config.json")
    assert (remote_engine(), service_host()) == (None, "127.0.0.1")
    monkeypatch.setenv("DOCKER_CONTEXT", "insecure")  # wins over currentContext, as in the docker CLI
    engine = resolve_engine()
    assert (engine.context, engine.source) == ("insecure", "Docker context 'insecure' from DOCKER_CONTEXT")
    assert "DOCKER_TLS_VERIFY" not in engine.docker_environment()
    assert engine.docker_environment()["DOCKER_CERT_PATH"] == engine.tls_dir
    monkeypatch.setenv("DOCKER_HOST", "unix:///run/user/1000/docker.sock")  # DOCKER_HOST wins over any context
    assert resolve_engine().source == "DOCKER_HOST"
    monkeypatch.setenv("DOCKER_CONTEXT", "default")
    monkeypatch.delenv("DOCKER_HOST")
    assert resolve_engine().tried[3] == "the Docker context (`default`, from DOCKER_CONTEXT: the sources after it)"


def test_a_context_that_does_not_exist_is_refused_as_the_docker_cli_refuses_it(
        home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    use(home / ".docker", "gone")
    meta = home / ".docker" / "contexts" / "meta" / hashlib.sha256(b"gone").hexdigest() / "meta.json"
    with pytest.raises(DockerUnavailable) as raised:
        resolve_engine()
    assert str(raised.value) == (
        f"the Docker context 'gone' (currentContext in ~/.docker/config.json) does not exist: there is no {meta}.\n"
        "Choose an existing one (`docker context ls`, `docker context use NAME`).")  # DOCKER_CONTEXT is not set
    monkeypatch.setenv("DOCKER_CONTEXT", "gone")
    with pytest.raises(DockerUnavailable, match=r"(?s)\(DOCKER_CONTEXT\) does not exist: .*`docker context use NAME`\) or "
                                                r"unset DOCKER_CONTEXT\.$"):
        resolve_engine()
    monkeypatch.delenv("DOCKER_CONTEXT")
    meta.parent.mkdir(parents=True)
    meta.write_text("{not json")
    with pytest.raises(DockerUnavailable) as raised:
        resolve_engine()
    assert str(raised.value).startswith(f"the Docker context 'gone' (currentContext in ~/.docker/config.json) "
                                        f"cannot be read from {meta}: JSONDecodeError: ")
    assert str(raised.value).endswith(".\nRecreate it with `docker context create`.")


def unix_socket(path: Path, *, listening: bool) -> socket.socket | None:
    """A unix socket bound at `path`: listening (returned, to be closed by the caller), or closed at once (its file
    stays: what Docker Desktop leaves behind when it quits)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    bound = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    bound.bind(str(path))
    if not listening:
        bound.close()
        return None
    bound.listen()
    return bound


@pytest.mark.parametrize("name", [".docker/run/docker.sock", ".docker/desktop/docker.sock"])
def test_docker_desktops_socket_in_the_home_folder(home: Path, name: str) -> None:
    listening = unix_socket(home / name, listening=True)
    assert listening is not None
    with listening:
        engine = resolve_engine()
    assert (engine.address, engine.source) == (f"unix://{home / name}", "Docker Desktop's socket")
    assert engine.tried == (PROPERTIES_ABSENT, "DOCKER_HOST (not set)",
                            "docker.host in ~/.testcontainers.properties (no such file)", DEFAULT_CONTEXT)


def test_a_desktop_socket_nothing_listens_on_is_passed_over_for_the_next_one(home: Path) -> None:
    """Docker Desktop quit and left its socket file: the default socket is tried next, as Testcontainers does."""
    unix_socket(home / ".docker/run/docker.sock", listening=False)
    (home / ".docker/desktop").mkdir()
    (home / ".docker/desktop/docker.sock").write_text("")  # not a socket at all
    engine = resolve_engine()
    assert (engine.address, engine.source) == (f"unix://{home}/no-default.sock", "the default socket")
    assert engine.tried[-1] == ("Docker Desktop's socket (~/.docker/run/docker.sock: Connection refused, passed over; "
                                "~/.docker/desktop/docker.sock: Connection refused, passed over)")
    with pytest.raises(DockerUnavailable) as raised:
        connect()
    assert f"no Docker engine answers at unix://{home}/no-default.sock (the default socket): " in str(raised.value)
    assert ("~/.docker/run/docker.sock: Connection refused, passed over; ~/.docker/desktop/docker.sock: Connection "
            "refused, passed over); the default socket: used.") in str(raised.value)


def test_docker_host_keeps_its_tls_variables(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "tcp://10.0.0.8:2376")
    monkeypatch.setenv("DOCKER_TLS_VERIFY", "1")
    monkeypatch.setenv("DOCKER_CERT_PATH", "/certs")
    monkeypatch.setenv("DOCKER_CONTEXT", "colima")  # ignored, as DOCKER_HOST is set
    engine = resolve_engine()
    assert engine.docker_environment() == {"DOCKER_HOST": "tcp://10.0.0.8:2376", "DOCKER_TLS_VERIFY": "1",
                                           "DOCKER_CERT_PATH": "/certs"}
    assert engine.cli_environment({"HOME": "/h", "DOCKER_CONTEXT": "colima"}) == {
        "HOME": "/h", "DOCKER_HOST": "tcp://10.0.0.8:2376", "DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": "/certs"}


@pytest.mark.parametrize(("variables", "host"), [
    ({"TESTCONTAINERS_HOST_OVERRIDE": "10.0.0.7"}, "10.0.0.7"),
    ({"TC_HOST": "10.0.0.6", "TESTCONTAINERS_HOST_OVERRIDE": "10.0.0.7"}, "10.0.0.6"),
    ({"TOPOLOGY_HOST": "10.0.0.5", "TC_HOST": "10.0.0.6"}, "10.0.0.5"),
])
def test_the_host_of_urls_from_testcontainers_variables(home: Path, monkeypatch: pytest.MonkeyPatch,
                                                        variables: dict[str, str], host: str) -> None:
    monkeypatch.setenv("DOCKER_HOST", "ssh://ci@build-box.example")
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    assert service_host() == host


def test_the_hub_image_prefix_is_a_substitute_for_docker_hub_images(home: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    assert (hub_image_prefix(), substitute("redis:7", {})) == ("", "redis:7")
    (home / ".testcontainers.properties").write_text("hub.image.name.prefix=mirror.example:5000/hub/\n")
    assert substitute("redis:7", {}) == "mirror.example:5000/hub/redis:7"
    monkeypatch.setenv("TESTCONTAINERS_HUB_IMAGE_NAME_PREFIX", "registry.example/proxy/")  # the variable wins
    # one image, one substitute: `docker.io/library/redis:7` is `redis:7` (the name Testcontainers prefixes)
    assert [substitute(name, {}) for name in ("redis:7", "bitnami/redis", "docker.io/library/redis:7",
                                              "library/redis:7", "docker.io/bitnami/redis", "ghcr.io/org/app:1",
                                              "localhost:5000/app")] == [
        "registry.example/proxy/redis:7", "registry.example/proxy/bitnami/redis", "registry.example/proxy/redis:7",
        "registry.example/proxy/redis:7", "registry.example/proxy/bitnami/redis", "ghcr.io/org/app:1",
        "localhost:5000/app"]
    # the project's own substitutes are more precise: they win
    assert substitute("redis:7", {"redis:7": "redis:7-local"}) == "redis:7-local"
    assert substitute("redis:7", {"docker.io/": "mirror/"}) == "mirror/redis:7"


def no_engine_message() -> str:
    with pytest.raises(DockerUnavailable) as raised:
        connect()
    return str(raised.value)


def test_the_no_engine_error_names_every_source_looked_at_and_the_one_used(home: Path) -> None:
    assert no_engine_message() == (
        f"no Docker engine answers at unix://{home}/no-default.sock (the default socket): No such file or directory.\n"
        f"{start_hint()}\n"
        f"Looked for an engine in Testcontainers' order: {PROPERTIES_ABSENT}; DOCKER_HOST (not set); docker.host in "
        f"~/.testcontainers.properties (no such file); {DEFAULT_CONTEXT}; {NO_DESKTOP}; the default socket: used.")
    assert start_hint().endswith("; or point DOCKER_HOST at a running engine (or `docker context use NAME`).")


def test_the_no_engine_error_of_a_properties_file(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (home / ".testcontainers.properties").write_text(f"tc.host=unix://{home}/tc.sock\n")
    monkeypatch.setenv("DOCKER_HOST", "unix:///var/run/docker.sock")
    assert no_engine_message() == (
        f"no Docker engine answers at unix://{home}/tc.sock (tc.host in ~/.testcontainers.properties): No such file "
        "or directory.\ntc.host in ~/.testcontainers.properties decides (as in Testcontainers, over DOCKER_HOST): "
        "start what it points at (e.g. Testcontainers Desktop), or remove that line.\n"
        "Looked for an engine in Testcontainers' order: tc.host in ~/.testcontainers.properties: used.")
    (home / ".testcontainers.properties").write_text(f"docker.host=unix://{home}/tc.sock\n")
    monkeypatch.delenv("DOCKER_HOST")
    assert no_engine_message() == (
        f"no Docker engine answers at unix://{home}/tc.sock (docker.host in ~/.testcontainers.properties): No such "
        "file or directory.\ndocker.host in ~/.testcontainers.properties decides (as in Testcontainers): start what it "
        "points at (e.g. Testcontainers Desktop), or remove that line.\n"
        "Looked for an engine in Testcontainers' order: tc.host in ~/.testcontainers.properties (not set); DOCKER_HOST "
        "(not set); docker.host in ~/.testcontainers.properties: used.")


def test_the_no_engine_error_of_a_context(home: Path) -> None:
    context(home / ".docker", "colima", f"unix://{home}/.colima/docker.sock")
    use(home / ".docker", "colima")
    assert no_engine_message() == (
        f"no Docker engine answers at unix://{home}/.colima/docker.sock (Docker context 'colima' from currentContext "
        "in ~/.docker/config.json): No such file or directory.\n"
        "Start the engine of the Docker context 'colima' (e.g. `colima start`, Docker Desktop), or choose another "
        "one: `docker context use NAME` (`docker context ls` lists them), or set DOCKER_HOST.\n"
        f"Looked for an engine in Testcontainers' order: {PROPERTIES_ABSENT}; DOCKER_HOST (not set); docker.host in "
        "~/.testcontainers.properties (no such file); Docker context 'colima' from currentContext in "
        "~/.docker/config.json: used.")
