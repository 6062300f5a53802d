"""Services whose image is, or builds FROM, an image built on this machine (issue #25): the commit of the checkout
does not name their code, as an image rebuilt from a folder outside the checkout (`image: pricing:dev` built by
hand, or a base image) changes what runs without changing the commit. Such an image has no registry digest
(`docker image inspect`: no RepoDigests), where a pulled one has; then the Pact Broker's results for the commit do not
count for a provider that is, or depends on or calls, such a service, and none are published under it
(harness.contracts.broker_config.with_checkout), as for a provider built outside the checkout.

An image that is not on the engine yet is pulled by the build: a registry's. The stand-ins of registry images that
the project's test machines build, having no registry, carry the label STANDIN (its value starts with the name they
stand in for) and count as the registry's; an image built FROM one inherits the label, but not the name.
"""

from __future__ import annotations

from collections.abc import Iterable

import docker
import docker.errors

from harness.contracts.checkout import Unclean
from harness.errors import HarnessError
from harness.model.topology import TopologySpec
from harness.runtime.dockerfile import base_images
from harness.runtime.images import dockerfile_text

STANDIN = "org.pytest-topology.standin"  # fixtures/images/ensure-base-images.sh: a registry image's stand-in


def built_here(spec: TopologySpec, services: Iterable[str] | None = None) -> dict[str, Unclean]:
    """service -> why its commit does not name its code, for each of `services` (None: all) that runs an image the
    engine has without a registry digest (`image:` and no `build:`), or is built from a Dockerfile one of whose base
    images (FROM, `COPY --from`) it has so; an image some service of the topology builds (its `image:` name) is the
    checkout's. Empty when no engine answers (the start says why)."""
    from harness.runtime import engine

    chosen = [(name, s) for name in (spec.services if services is None else services)
              if (s := spec.services.get(name)) is not None]
    built = {name: s.build for name, s in chosen if s.build is not None and not s.build.remote}
    given = {name: s.image for name, s in chosen if s.build is None and s.image}
    if not built and not given:
        return {}
    try:
        client = engine.connect()
    except HarnessError:
        return {}
    ours = {s.image for s in spec.services.values() if s.build is not None and s.image}  # built from the checkout too
    found: dict[str, Unclean] = {}
    try:
        for name, image in given.items():
            if image not in ours and _local(client, image):
                found[name] = Unclean(
                    f"{name} runs {image}, an image built on this machine (no registry digest in docker image "
                    "inspect): no commit of the checkout names what it holds",
                    f"give {name} an image pulled from a registry, or build it from the checkout (build:)", tree=False)
        for name, build in built.items():
            text = dockerfile_text((spec.base_dir / build.context).resolve(), build) or ""
            for base in base_images(text, build.args, build.target):
                if base not in build.additional_contexts and base not in ours and _local(client, base):
                    found[name] = Unclean(
                        f"the image of {name} builds FROM {base}, an image built on this machine (no registry digest "
                        "in docker image inspect): no commit of the checkout names what it holds",
                        "build FROM an image pulled from a registry", tree=False)
                    break
    finally:
        client.close()
    return found


def _local(client: docker.DockerClient, name: str) -> bool:
    try:
        image = client.images.get(name)
    except (docker.errors.ImageNotFound, docker.errors.NullResource, docker.errors.APIError):
        return False  # the build pulls it
    if image.attrs.get("RepoDigests"):
        return False
    standing = (image.labels or {}).get(STANDIN, "").split(" ", 1)[0]  # "python:3.11-slim stand-in: ..."
    return not standing or standing not in image.tags  # an image built FROM a stand-in inherits its label
