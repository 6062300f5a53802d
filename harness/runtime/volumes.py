"""The storage of a service's container: the run's named volumes (created once per run, labelled with it), and each
service's mounts: binds (paths relative to the topology file), named and anonymous volumes, and the volumes of the
container it replaces (an update of a kept run)."""

from __future__ import annotations

import hashlib
import json
import os

import docker
import docker.errors

from harness.errors import DockerError
from harness.model.topology import TopologySpec, VolumeSpec
from harness.runtime import labels as L
from harness.runtime.containers import MountRef
from harness.runtime.engine import explain
from harness.runtime.pulls import present_or_pulled


def create_volumes(client: docker.DockerClient, spec: TopologySpec, run_id: str,
                   run_labels: dict[str, str]) -> dict[str, str]:
    """A volume of the engine for each named volume the services use, labelled with the run (an external one: the
    existing volume, never created, nor labelled, so never removed): {name in the file: name in the engine}.

    Raises:
        DockerError: the engine refused to create one, or an external one is missing.
    """
    names = {v.source for s in spec.services.values() for v in s.volumes if v.source}
    created: dict[str, str] = {}
    for volume in sorted(names):
        options = spec.volumes.get(volume)
        if options and options.external:
            created[volume] = options.name or volume
            try:
                client.volumes.get(created[volume])
            except docker.errors.NotFound:  # Compose's message
                raise DockerError(f'external volume "{created[volume]}" not found (volumes.{volume}: external)',
                                  operation="create volume",
                                  hint=f"Create it (docker volume create {created[volume]}), as for Docker Compose, "
                                       "or remove `external`.") from None
            continue
        created[volume] = f"harness-{spec.name}-{volume}-{run_id}"
        try:  # a volume of a kept run is there already: the engine gives it back as it is (its data, its options)
            client.volumes.create(created[volume], labels={**(options.labels if options else {}), **run_labels,
                                                           L.VOLUME: volume,
                                                           L.VOLUME_DEFINITION: definition_hash(options)},
                                  driver=options.driver if options else None,
                                  driver_opts=options.driver_opts if options else None)
        except docker.errors.APIError as error:
            raise DockerError(f"could not create the volume {created[volume]}: {explain(error)}",
                              operation="create volume") from None
    return created


def definition_hash(volume: VolumeSpec | None) -> str:
    """What a named volume is created from (a label on it, as Compose's config hash): its driver and options, and
    its labels when it has some (so a kept run's volume made before they were honoured keeps its hash) (None: the
    file does not say, the local driver)."""
    definition = (volume or VolumeSpec()).model_dump(mode="json", include={"driver", "driver_opts", "labels"})
    if not definition["labels"]:
        del definition["labels"]
    return hashlib.sha256(json.dumps(definition, sort_keys=True).encode()).hexdigest()[:12]


def diverged(spec: TopologySpec, run: L.Run) -> list[str]:
    """The named volumes of `run` that `spec` now defines otherwise (driver, driver_opts, labels), in name order; a
    volume created before these labels, or no longer in the file, is none."""
    found = []
    for volume in run.volumes:
        labels = L.labels_of(volume)
        name, created = labels.get(L.VOLUME, ""), labels.get(L.VOLUME_DEFINITION)
        used = any(v.source == name for service in spec.services.values() for v in service.volumes)
        external = spec.volumes.get(name) is not None and spec.volumes[name].external
        if created and used and not external and created != definition_hash(spec.volumes.get(name)):
            found.append(name)
    return sorted(found)


def anonymous_volume(spec: TopologySpec, name: str, replica: int, index: int, run_id: str) -> str:
    """The volume of run `run_id` made for the anonymous volume `index` (of `volumes:`) of replica `replica` of
    service `name`."""
    return f"harness-{spec.name}-{name}{'' if replica == 1 else f'-{replica}'}-anon{index}-{run_id}"


def service_mounts(client: docker.DockerClient, spec: TopologySpec, name: str, image: str, run_id: str,
                   run_labels: dict[str, str], named: dict[str, str], inherited: list[MountRef],
                   replica: int = 1) -> list[MountRef]:
    """Bind mounts (paths relative to the topology file) and volumes of service `name` (`named`: create_volumes'
    names); an anonymous volume gets a labelled volume of its own, so that teardown finds it by the run's label. A
    replacing container also gets the volumes Docker made for its image's VOLUMEs in the container it replaces
    (`inherited`). Each replica (`replica`: its number) has anonymous volumes of its own, as under Compose."""
    service = spec.services[name]
    # the path as written, made absolute, symlinks kept (as Compose passes it: `/etc/localtime` stays itself)
    mounts = [MountRef.bind(m, os.path.abspath(spec.base_dir / m.source)) for m in service.mounts if not m.copied]
    for index, volume in enumerate(service.volumes):
        if volume.source:
            source = named[volume.source]
        else:
            source = anonymous_volume(spec, name, replica, index, run_id)
            client.volumes.create(source, labels=run_labels)
        mounts.append(MountRef.volume(volume, source))
    # an image's files (the engine took the key: TopologySpec.engine_needs was checked before the start), pulled
    # first when missing, as Compose pulls it
    for shown in service.image_volumes:
        problem = present_or_pulled(client, shown.image)
        if problem:
            raise DockerError(f"service '{name}': the image {shown.image} of its volume at {shown.target} is not "
                              f"on the engine: {problem}", service=name, operation="pull",
                              hint="Build or pull that image first, or fix its name in the file.")
        mounts.append(MountRef("image", shown.image, shown.target, shown.read_only, subpath=shown.subpath))
    if inherited:  # as Compose: the replaced container's volume at a VOLUME of the image now
        declared = client.images.get(image).attrs.get("Config", {}).get("Volumes") or {}
        taken = {m.target for m in mounts} | {entry.partition(":")[0] for entry in service.tmpfs}
        mounts += [m for m in inherited if m.target in declared and m.target not in taken]
    return mounts
