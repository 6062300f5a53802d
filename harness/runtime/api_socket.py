"""`use_api_socket`, as Docker Compose v2.40 gives it (pkg/compose/apiSocket.go; a client-side feature, the engine has
no such option): the engine's socket /var/run/docker.sock of the engine's machine bound at the same path, and the
registry credentials of this machine's Docker client configuration (credential stores and helpers resolved) written
into the container at /run/secrets/docker/config.json, with DOCKER_CONFIG=/run/secrets/docker unless the service
sets DOCKER_CONFIG itself.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass

import docker
import docker.auth
import docker.errors

from harness.errors import DockerError
from harness.runtime.containers import CopyRef, MountRef

SOCKET = "/var/run/docker.sock"  # Compose's: on the engine's machine, whatever address the client uses
CONFIG_FOLDER = "/run/secrets/docker"


@dataclass(frozen=True)
class ApiSocket:
    """What a service with `use_api_socket` gets: the socket's bind, its environment's DOCKER_CONFIG (None: the
    service sets it), the credentials file, and the values in it (hidden wherever the harness prints)."""

    mount: MountRef
    docker_config: str | None
    credentials: CopyRef
    secrets: set[str]


def api_socket(client: docker.DockerClient, service: str, environment: dict[str, str]) -> ApiSocket:
    """The socket and credentials of `service` (its `environment` as the container gets it).

    Raises:
        DockerError: a Windows engine, or the credentials could not be resolved (Docker Compose's messages).
    """
    if str(client.info().get("OSType", "")).lower() == "windows":
        raise DockerError(f"service '{service}': use_api_socket can't be used with a Windows Docker Engine (Docker "
                          "Compose refuses it too)", service=service, operation="create",
                          hint="Remove use_api_socket, or use a Linux engine.")
    try:
        credentials = docker.auth.load_config().get_all_credentials()
    except (docker.errors.DockerException, OSError, ValueError) as error:
        raise DockerError(f"service '{service}': resolving credentials failed: {error} (use_api_socket: Docker "
                          "Compose fails the same way)", service=service, operation="create",
                          hint="Fix the Docker client configuration (~/.docker/config.json or DOCKER_CONFIG: its "
                               "credsStore and credHelpers), or remove use_api_socket.") from None
    auths, secrets = _auths(credentials)
    content = json.dumps({"auths": auths}, indent="\t", sort_keys=True).encode()
    return ApiSocket(MountRef("bind", SOCKET, SOCKET, read_only=False, create_host_path=True),
                     None if "DOCKER_CONFIG" in environment else CONFIG_FOLDER,
                     CopyRef(None, f"{CONFIG_FOLDER}/config.json", content, None, None, 0o444), secrets)


def _auths(credentials: dict[str, dict[str, str]]) -> tuple[dict[str, dict[str, str]], set[str]]:
    """docker-py's credentials -> the `auths` of a Docker client configuration as the Docker CLI writes it (user and
    password in `auth`, base64; an identity token as `identitytoken`), and the secret values."""
    auths: dict[str, dict[str, str]] = {}
    secrets: set[str] = set()
    for registry, given in sorted(credentials.items()):
        entry: dict[str, str] = {}
        # docker-py's keys: lower-case from the file's `auths`, capitalised from a credential store or helper
        user = given.get("username") or given.get("Username") or ""
        password = given.get("password") or given.get("Password") or ""
        token = given.get("IdentityToken") or ""
        if user or password:
            entry["auth"] = base64.b64encode(f"{user}:{password}".encode()).decode()
            secrets |= {entry["auth"], password}
        if token:
            entry["identitytoken"] = token
            secrets.add(token)
        auths[registry] = entry
    return auths, {value for value in secrets if value}
