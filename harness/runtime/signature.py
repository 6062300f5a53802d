"""Run signatures: what each service's container is started from (a label on it), and how a running run differs
from its file now (the services whose containers would change, the new ones, the removed ones)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import docker
import docker.errors

from harness.model.service import CONTAINER_KEYS, ServiceSpec
from harness.model.topology import TopologySpec
from harness.runtime import labels as L
from harness.runtime import networks
from harness.runtime.buildcontext import copy_digest
from harness.runtime.images import content_tag, planned_builds, substitute
from harness.runtime.labels import CONTEXT
from harness.runtime.prune import BUILT
from harness.runtime.volumes import diverged

# the parts of a signature, in the order a message names them: what a container is started from
SIGNATURE_PARTS = ("image", "environment", *CONTAINER_KEYS, "copied files", "replicas")


def service_signature(service: ServiceSpec, image_id: str, base_dir: Path) -> str:
    """What a service's container is started from, as JSON {part: short hash} (SIGNATURE_PARTS): its image (name
    and id), its environment (env files read now), each container setting not at its default (CONTAINER_KEYS) and
    the content of its `copy: true` mounts. Harness-only keys (HARNESS_ONLY_KEYS: ready, auth, openapi, fuzz, ...)
    are not in it: changing them never replaces a container. Equal signatures: the container can be reused;
    `signature_changes` names what differs."""
    try:
        environment = service.full_environment(base_dir)
    except Exception:  # noqa: BLE001 - an unreadable env file: the start reports it
        environment = {}
    copies = {}
    for mount in service.mounts:
        if mount.copied:
            try:
                copies[mount.source] = copy_digest(base_dir / mount.source)
            except OSError as error:  # a missing source: the start reports it
                copies[mount.source] = f"unreadable: {error.strerror}"
    parts: dict[str, object] = {"image": [service.image, image_id], **service.container_settings()}
    if environment:
        parts["environment"] = sorted(environment.items())
    if copies:
        parts["copied files"] = sorted(copies.items())
    return json.dumps({part: hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:12]
                       for part, value in parts.items()}, sort_keys=True)


def signature_changes(running: str, expected: str) -> list[str] | None:
    """The parts (SIGNATURE_PARTS) that differ between two signatures (a part missing from one is at its default);
    None if `running` is of another form (its container was started by another version of the harness)."""
    try:
        old, new = json.loads(running), json.loads(expected)
    except ValueError:
        return None
    if not isinstance(old, dict) or not isinstance(new, dict):
        return None
    order = {part: index for index, part in enumerate(SIGNATURE_PARTS)}
    return sorted((part for part in {*old, *new} if old.get(part) != new.get(part)),
                  key=lambda part: (order.get(part, len(order)), part))


def signatures(client: docker.DockerClient, spec: TopologySpec) -> dict[str, str]:
    """Service -> the signature a container of it started now would carry (its spec and its image's id)."""
    result = {}
    built: dict[str, str] = {}  # service with `build:` -> the content tag it runs (one per distinct build)
    named: dict[str, str] = {}  # `image:` name given beside `build:` -> that content tag, which a start runs
    for build in planned_builds(spec):
        tag = content_tag(client, build.context, build.build)
        built.update(dict.fromkeys(build.services, tag))
        named.update(dict.fromkeys(build.names, tag))
    for name, service in spec.services.items():
        image = service.image or ""
        reference = built.get(name) or named.get(image) or substitute(image, spec.image_substitutes)
        result[name] = service_signature(service, image_id_of(client, reference), spec.base_dir)
    return result


def placed(signature: str, spec: TopologySpec, name: str) -> str:
    """`signature` (service_signature) of service `name` with the engine that runs it (its name and host) as a part,
    for a topology across engines: a service placed elsewhere is a changed service (started again there)."""
    engine = next((e for e in spec.engines if e.name == spec.engine_of(name)), None)
    if engine is None:
        return signature
    parts = {**json.loads(signature), "engine": hashlib.sha256(json.dumps([engine.name, engine.host]).encode())
             .hexdigest()[:12]}
    return json.dumps(parts, sort_keys=True)


def engine_signatures(clients: dict[str, docker.DockerClient], spec: TopologySpec,
                      builder: docker.DockerClient | None = None) -> dict[str, str]:
    """`signatures` of a topology across engines (`clients`: engine name -> client): each service's image as its
    engine has it, its engine a part of its signature (`placed`). With a `builder` (transfer.py: this machine's
    engine builds and copies, keeping the image id), a built service's content tag and image id are the builder's
    (its engine may lack the FROM base the tag is computed from), and so is an image the builder has (a copy has
    its id)."""
    result = {}
    for engine, client in clients.items():
        services = {n: s for n, s in spec.services.items() if spec.engine_of(n) == engine}
        if builder is not None:  # what it builds, and images it has (copied from it: the same id)
            built = {n: s for n, s in services.items() if s.build or image_id_of(
                builder, substitute(s.image or "", spec.image_substitutes))}
            result.update({name: placed(signature, spec, name) for name, signature in signatures(
                builder, spec.model_copy(update={"services": built})).items()} if built else {})
            services = {n: s for n, s in services.items() if n not in built}
        on_engine = signatures(client, spec.model_copy(update={"services": services})) if services else {}
        result.update({name: placed(signature, spec, name) for name, signature in on_engine.items()})
    return {name: result[name] for name in spec.services}  # file order


def image_id_of(client: docker.DockerClient, reference: str) -> str:
    """The image's id; of an image the harness built (its context label), what a container gets from it: its layers
    and config without the harness's own labels (a build stamps its time on the image, so a rebuild from the cache
    has another id where Compose's has the same: a file of the context the image does not use changes nothing)."""
    try:
        image = client.images.get(reference)
    except (docker.errors.ImageNotFound, docker.errors.NullResource):
        return f"missing:{reference}"
    except docker.errors.APIError:  # an invalid reference: nothing runs from it
        return f"invalid:{reference}"
    labels = (image.attrs.get("Config") or {}).get("Labels") or {}
    if CONTEXT not in labels:
        return str(image.id)
    config = {key: value for key, value in (image.attrs.get("Config") or {}).items() if key in IMAGE_CONFIG}
    config["Labels"] = {key: value for key, value in labels.items() if key not in (CONTEXT, BUILT)}
    content = [(image.attrs.get("RootFS") or {}).get("Layers"), config]
    return "built:" + hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


# what a container takes from its image's config (not the builder's own fields: Hostname, Image, ...)
IMAGE_CONFIG = ("User", "ExposedPorts", "Env", "Cmd", "Healthcheck", "ArgsEscaped", "Volumes", "WorkingDir",
                "Entrypoint", "OnBuild", "StopSignal", "Shell")


@dataclass(frozen=True)
class RunDifference:
    """How a running run differs from its file now, per service (empty: the same containers would be started)."""

    changed: dict[str, list[str] | None]  # service -> the signature parts that differ; None: another harness version
    added: list[str]  # in the file, not running
    # running, no longer in the file: orphans, left running as `docker compose up` leaves them (`orphans()` says
    # so); they are no change of the run, and `harness down` removes them with it
    removed: list[str]
    # networks the run created that the file now declares otherwise (or no longer, or newly): as Compose, an update
    # makes a changed one again and restarts the kept containers on it (reuse.update; their named volumes stay)
    networks: list[str] = field(default_factory=list)
    # named volumes the file now defines otherwise (driver, driver_opts, labels): kept as they are, with their data, as
    # `docker compose up` keeps them without a terminal (`kept_volumes()` says so); no change of the run either
    volumes: list[str] = field(default_factory=list)
    # a run across engines whose `engines:` the file now lists otherwise (names, hosts, order: the manager): its
    # overlay network is the old manager's, so the run is started again whole
    engines: bool = False
    from_zero: list[str] = field(default_factory=list)  # of `added`: of 0 replicas in the run (scaled from 0)
    # of `changed`: those whose count of containers alone differs -> how many the run has; as Compose, an update
    # keeps their containers and adds or removes only the replicas beyond the count (reuse.update)
    scaled: dict[str, int] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.changed or self.added or self.networks or self.engines)

    def lines(self) -> list[str]:
        """One readable item per kind of difference, e.g. 'orders changed (environment, ports)'."""
        lines = ["engines changed"] if self.engines else []
        lines += [f"networks changed: {', '.join(self.networks)}"] if self.networks else []
        lines += [f"not running: {', '.join(self.added)}"] if self.added else []
        lines += [f"{name} changed ({', '.join(what)})" if what is not None
                  else f"{name} was started by another version of the harness" for name, what in self.changed.items()]
        return lines

    def kept_volumes(self, down: str) -> str | None:
        """What Docker Compose asks of the named volumes the file now defines otherwise, and what a run does off a
        terminal as Compose does (keeps them); `down` the command that removes the run. None: no such volume."""
        if not self.volumes:
            return None
        one = len(self.volumes) == 1
        return (f"note: named volume{'' if one else 's'} {', '.join(self.volumes)} of the running topology: the file "
                f"now defines {'it' if one else 'them'} otherwise (driver, driver_opts, labels); kept as "
                f"{'it is' if one else 'they are'}, with the data, as `docker compose up` keeps a volume without a "
                "terminal (it asks \"Volume ... exists but doesn't match configuration in compose file. Recreate "
                "(data will be lost)?\" and the answer is no); to recreate, losing the data, remove the run first: "
                f"{down}")

    def orphans(self) -> str | None:
        """What Docker Compose warns of the services no longer in the file (None: none)."""
        if not self.removed:
            return None
        return (f"note: {', '.join(self.removed)} no longer in the file: left running, as `docker compose up` leaves "
                "orphan containers (Compose warns \"Found orphan containers\"); `harness down` removes them with "
                "the run")


def run_difference(client: docker.DockerClient, spec: TopologySpec, run: L.Run,
                   clients: dict[str, docker.DockerClient] | None = None,
                   builder: docker.DockerClient | None = None) -> RunDifference:
    """What differs between a running run and `spec` now (across engines: `clients`, engine name -> client, and the
    `builder`, see engine_signatures)."""
    running: dict[str, str | None] = {}
    counts: dict[str, int] = {}  # service -> its containers (replicas) in the run
    for container in run.containers:
        labels = L.labels_of(container)
        if L.SERVICE in labels:  # fault helpers and the like belong to no service
            running[labels[L.SERVICE]] = labels.get(L.SIGNATURE)
            counts[labels[L.SERVICE]] = counts.get(labels[L.SERVICE], 0) + 1
    expected = engine_signatures(clients, spec, builder) if clients else signatures(client, spec)
    changed, scaled = {}, {}
    for name in (name for name in expected if name in running):
        what = signature_changes(running[name] or "", expected[name]) if running[name] != expected[name] else []
        if what is not None and counts[name] != spec.services[name].replicas:  # as many containers as replicas
            what = [*what, "replicas"]
            if what == ["replicas"]:
                scaled[name] = counts[name]
        if what != []:
            changed[name] = what
    declared, created = networks.declared_hashes(spec), networks.running_hashes(run)
    return RunDifference(changed, added=sorted(n for n in expected if n not in running and spec.services[n].replicas),
                         removed=sorted(set(running) - set(expected)),
                         networks=sorted(n for n in {*declared, *created} if declared.get(n) != created.get(n)),
                         volumes=diverged(spec, run), engines=_engines_of(run) != _engines_wanted(spec),
                         from_zero=sorted(L.zero_replicas(client, run.run_id)), scaled=scaled)


def _engines_of(run: L.Run) -> str:
    """The engines a run was started across (its label: [] for one engine)."""
    recorded = L.recorded_engines(run)
    try:
        return json.dumps(json.loads(recorded or "[]"))
    except ValueError:  # not the harness's: a change
        return str(recorded)


def _engines_wanted(spec: TopologySpec) -> str:
    return json.dumps([[e.name, e.host] for e in spec.engines])


def run_changes(client: docker.DockerClient, spec: TopologySpec, run: L.Run) -> list[str]:
    """What differs between a running run and `spec` now, one item per kind (empty: the same topology)."""
    return run_difference(client, spec, run).lines()
