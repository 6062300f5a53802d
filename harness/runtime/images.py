"""Images for a topology: one build per distinct `build:` (`planned_builds`), tagged by a hash of its content (no
rebuild when nothing changed) and with the `image:` names its services give; `image:` names and FROM bases checked
locally (and substituted, see `substitute`) before anything starts, else pulled as each service's `pull_policy` says
(pulls.py); every missing image is named in one error."""

from __future__ import annotations

import io
import os
import tempfile
import time
from collections.abc import Callable, Collection, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.errors
import docker.models.images
import docker.utils

from harness.engine_source import hub_image_prefix, hub_prefix_source
from harness.errors import EXIT_BAD_INPUT, EXIT_ENVIRONMENT, BuildFailed, ImageMissing
from harness.model.parts import BuildSpec
from harness.model.topology import TopologySpec
from harness.runtime.buildcontext import build_tag, url_tag
from harness.runtime.composebuild import compose_build, engine_lacks
from harness.runtime.dockerfile import base_images, buildkit_instructions
from harness.runtime.engine import project_script
from harness.runtime.imagelocks import building
from harness.runtime.labels import CONTEXT, PREFIX
from harness.runtime.prune import BUILT, prune_images
from harness.runtime.pulls import present_or_pulled
from harness.runtime.readiness import log_ending
from harness.runtime.transfer import copy_image, has_image

BUILD_LOG_TAIL = 50
SUBSTITUTE_FOR = f"{PREFIX}.substitute-for"  # on an alias image: the name it stands in for (harness prune removes it)
SUBSTITUTE = f"{PREFIX}.substitute"  # on an alias image: the image it is
SUBSTITUTE_ID = f"{PREFIX}.substitute-id"  # on an alias image: the id of that image when the alias was made


Context = Path | str  # a build context: a folder (absolute), or a URL the builder fetches (`BuildSpec.remote`)


def context_label(context: Context) -> str:
    """What a built image's CONTEXT label says (and locks and tidying go by): the folder, resolved, or the URL."""
    return context if isinstance(context, str) else str(context.resolve())


@dataclass(frozen=True)
class PlannedBuild:
    """One image a topology builds: from `build` in `context` (absolute, or a URL), run by `services` (file order;
    the first one's `build` is used) and tagged with the `names` given beside `build:` (compose's `image:`) and its
    `tags`. `project_dir` is the topology file's folder (Compose reads `.env` there when it runs the build)."""

    context: Context
    build: BuildSpec
    services: tuple[str, ...]
    names: tuple[str, ...]
    project_dir: Path = Path()


def planned_builds(spec: TopologySpec) -> list[PlannedBuild]:
    """One build per distinct `build:` of `spec`'s services (context, Dockerfile and every setting), in file order:
    services that share one run one image, built once, tagged with every `image:` name they give and its `tags` (as
    `docker compose build` tags it). Paths are compared normalised (`./app` is `app/`) and made absolute (secrets'
    files, additional contexts); no file is read."""
    # (context, Dockerfile, the other settings) -> (context, build, services, image names)
    groups: dict[tuple[str, str, str], tuple[Context, BuildSpec, list[str], list[str]]] = {}
    for name, service in spec.services.items():
        if service.build is None:
            continue
        build = _absolute(service.build, spec.base_dir)
        context: Context = build.context if build.remote else Path(os.path.normpath(spec.base_dir / build.context))
        dockerfile = build.dockerfile if isinstance(context, str) else os.path.normpath(context / build.dockerfile)
        key = (str(context), dockerfile, build.model_dump_json(exclude={"context", "dockerfile"}))
        _, _, services, names = groups.setdefault(key, (context, build, [], []))
        services.append(name)
        for image in ([service.image] if service.image else []) + build.tags:
            if image not in names:
                names.append(image)
    return [PlannedBuild(context, build, tuple(services), tuple(names), spec.base_dir)
            for context, build, services, names in groups.values()]


def _absolute(build: BuildSpec, base_dir: Path) -> BuildSpec:
    """`build` with its secrets' files and its folder contexts absolute (a topology file gives them relative to
    itself; Compose's canonical form has them absolute already)."""
    def folder(source: str) -> str:
        return source if "://" in source or source.startswith(("service:", "target:")) else \
            os.path.normpath(base_dir / source)

    secrets = [s.model_copy(update={"file": os.path.normpath(base_dir / s.file)}) if s.file else s
               for s in build.secrets]
    return build.model_copy(update={"secrets": secrets, "additional_contexts": {
        name: folder(source) for name, source in build.additional_contexts.items()}})


def build_image(client: docker.DockerClient, context: Context, build: BuildSpec, *, service: str,
                on_start: Callable[[], None] | None = None,
                on_line: Callable[[str], None] | None = None, names: Sequence[str] = (),
                project_dir: Path | None = None) -> tuple[str, bool]:
    """Build unless an image with the content tag exists, then tag it with `names` too (compose's `image:` beside
    `build:`, `build.tags`), so services that name it find it. One process at a time builds one tag
    (`imagelocks.building`): another one waits and finds it built. Returns (tag, built_now).

    docker-py builds it (the engine's classic builder), unless it needs BuildKit (`needs_buildkit`) or its context
    is a URL: then Docker Compose does (`composebuild`), in `project_dir` (default: the context folder), and the
    builder fetches the URL as under `docker compose up`.

    The caller holds `imagelocks.using_contexts` on the context until its containers exist, so that no prune removes
    the image meanwhile; old images of the context are removed after that (`tidy`), not here.

    Raises:
        BuildFailed: the build's error and the last lines of its log.
    """
    tag = content_tag(client, context, build)
    waiting = (lambda: on_line("waiting for another session that builds the same image")) if on_line else None
    with building(tag, waiting or (lambda: None)):
        try:
            image = client.images.get(tag)
            built = False
        except docker.errors.ImageNotFound:
            if on_start:
                on_start()
            if isinstance(context, str):
                image = _build_by_compose(client, context, build, tag, service, on_line, [REMOTE_REASON],
                                          project_dir or Path.cwd())
            elif reasons := needs_buildkit(context, build):
                image = _build_by_compose(client, context, build, tag, service, on_line, reasons,
                                          project_dir or context)
            else:
                image = _build(client, context, build, tag, service, on_line)
            built = True
        for name in names:
            _tag(image, name)
    return tag, built


def needs_buildkit(context: Path, build: BuildSpec) -> list[str]:
    """Why `build` needs BuildKit (Compose's keys only BuildKit has, the Dockerfile's instructions only BuildKit
    builds), e.g. ['secrets', 'RUN --mount (line 3)']; empty for a build docker-py can run."""
    text = dockerfile_text(context, build)
    return build.buildkit_keys() + (buildkit_instructions(text) if text else [])


def _build(client: docker.DockerClient, context: Path, build: BuildSpec, tag: str, service: str,
           on_line: Callable[[str], None] | None) -> docker.models.images.Image:
    log: list[str] = []
    labels = {**build.labels, CONTEXT: str(context.resolve()), BUILT: str(time.time_ns())}
    with tempfile.TemporaryDirectory(prefix="pytest-topology-dockerfile-") as folder:
        dockerfile = build.dockerfile
        if build.dockerfile_inline is not None:  # docker-py sends a Dockerfile outside the context beside it
            dockerfile = str(Path(folder) / "Dockerfile")
            Path(dockerfile).write_text(build.dockerfile_inline, encoding="utf-8")
        try:
            for chunk in client.api.build(path=str(context), dockerfile=dockerfile, tag=tag, buildargs=build.args,
                                          target=build.target, labels=labels, rm=True, forcerm=True, decode=True,
                                          extra_hosts=build.extra_hosts or None, network_mode=build.network,
                                          shmsize=build.shm_size, isolation=build.isolation, nocache=build.no_cache,
                                          pull=build.pull, platform=build.platform):
                if "error" in chunk:
                    log.append(str(chunk["error"]).rstrip())
                    raise BuildFailed(_build_message(service, context, log), service=service, hint=BUILD_HINT)
                line = str(chunk.get("stream") or chunk.get("status") or "").rstrip()
                if line:
                    log.append(line)
                    if on_line:
                        on_line(line)
        except docker.errors.APIError as exc:
            log.append(str(exc))
            raise BuildFailed(_build_message(service, context, log), service=service, hint=BUILD_HINT) from None
    return client.images.get(tag)


REMOTE_REASON = "a remote context (fetched by the builder; kept by its URL, not its content)"


def _build_by_compose(client: docker.DockerClient, context: Context, build: BuildSpec, tag: str, service: str,
                      on_line: Callable[[str], None] | None, reasons: list[str],
                      project_dir: Path) -> docker.models.images.Image:
    if on_line:
        on_line(f"built by Docker Compose (BuildKit): {', '.join(reasons)}")
    code, log = compose_build(build, context, tag, {CONTEXT: context_label(context), BUILT: str(time.time_ns())},
                              service=service, project_dir=project_dir, on_line=on_line)
    if code != 0:
        lacks = engine_lacks(log)
        message = _build_message(service, context, log).replace(
            "docker build of", f"docker compose build (BuildKit, for {', '.join(reasons)}) of", 1)
        # when the engine's builder lacks the feature, fixing the Dockerfile is not the way out
        raise BuildFailed(message, service=service, hint=f"{lacks[0].upper()}{lacks[1:]}." if lacks else BUILD_HINT)
    return client.images.get(tag)


def tidy(client: docker.DockerClient, contexts: Iterable[Context]) -> None:
    """Remove old images of `contexts` (`prune_images`: beyond the newest few, never one in use), after a start that
    built one of them. A context that another session builds or starts from now is left for later."""
    for context in contexts:
        label = context_label(context)
        try:
            prune_images(client, wanted=label.__eq__, substitutes=False)
        except docker.errors.APIError:
            pass  # tidying only: the start itself succeeded


def content_tag(client: docker.DockerClient, context: Context, build: BuildSpec) -> str:
    """The tag a build of `context` gets (and is found by): `build_tag` over the context and the current ids of the
    Dockerfile's base images (a URL: `url_tag`, by the URL), plus `-<target>`."""
    if isinstance(context, str):
        return url_tag(context, build) + (f"-{build.target}" if build.target else "")
    return (build_tag(context, build, bases=base_identities(client, context, build))
            + (f"-{build.target}" if build.target else ""))


def base_identities(client: docker.DockerClient, context: Path, build: BuildSpec) -> list[str]:
    """`<base>=<local image id>` for each base image of the Dockerfile (`dockerfile.base_images`), else
    `<base>=missing` (it will be pulled; the tag changes once it is here). One image inspect per base, every call:
    a tag can move to another image at any time. A substitute's alias (`_alias`) adds the substitute's id now, so
    that a moved substitute is seen before the alias is made again. An unreadable Dockerfile has none (the build
    reports it)."""
    identities = []
    for base in _bases(dockerfile_text(context, build) or "", build):
        try:
            image = client.images.get(base)
            identity = f"{base}={image.id}"
            labels = image.labels or {}
            if labels.get(SUBSTITUTE_FOR) == base:  # an alias (`_alias`): of the substitute as it is now?
                identity += f" of {labels.get(SUBSTITUTE)}={client.images.get(labels.get(SUBSTITUTE, '')).id}"
        except (docker.errors.ImageNotFound, docker.errors.NullResource, docker.errors.APIError):
            identity = f"{base}=missing"  # an invalid reference too: prepare_images and the build say so
        identities.append(identity)
    return identities


def dockerfile_text(context: Path, build: BuildSpec) -> str | None:
    """The Dockerfile's text: `dockerfile_inline`, else the file (as docker-py finds it: the context joined with a
    relative or absolute `dockerfile`), or None when it cannot be read (a URL context's: the builder fetches it)."""
    if build.dockerfile_inline is not None:
        return build.dockerfile_inline
    if build.remote:
        return None
    try:
        return (context / build.dockerfile).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def _bases(dockerfile: str, build: BuildSpec) -> list[str]:
    """The images a build starts from or copies out of (`base_images`); a name of `additional_contexts` is not one
    (BuildKit reads that context instead)."""
    return [base for base in base_images(dockerfile, build.args, build.target) if base not in build.additional_contexts]


def _tag(image: docker.models.images.Image, name: str) -> None:
    # repository and tag apart: Docker also takes "repo:tag" as the repository, Podman's compat API refuses it
    repository, tag = docker.utils.parse_repository_tag(name)
    image.tag(repository, tag or "latest")


def _build_message(service: str, context: Context, log: list[str]) -> str:
    tail = "\n".join(f"  | {line}" for line in log[-BUILD_LOG_TAIL:])
    return (f"service '{service}': docker build of {context} failed; its log ends: {log_ending(log)}\n"
            f"Last {min(len(log), BUILD_LOG_TAIL)} lines of the build log:\n{tail}")


BUILD_HINT = "Fix the Dockerfile or the build context and run again."


def _missing_hint() -> str:
    """What to do about missing images, for a pip user (and this project's script when run inside its repository)."""
    script = project_script("ensure-base-images.sh")
    ours = (f" (in this repository `bash {script}` provides python:3.11-slim, postgres:15 and redis:7)"
            if script else "")
    return (f"Pull or build them first{ours}, use `build:` instead of `image:`, or substitute an image you have: "
            "`--image-substitute NAME=LOCAL_IMAGE` (pytest and harness), the ini key `image_substitutes`, or the "
            "topology key `image_substitutes:` or the builder's `.image_substitutes({...})` (a key ending in '/' "
            "replaces a registry prefix).")


def _registry_and_path(name: str) -> tuple[str, str]:
    """'rabbitmq:latest' -> ('docker.io', 'rabbitmq:latest'); 'mirror.local:5000/a/b:1' -> ('mirror.local:5000',
    'a/b:1'). A first part with a '.', a ':' or 'localhost' is a registry host, as Docker reads it."""
    first, sep, rest = name.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        return first, rest
    return "docker.io", name


def _canonical(name: str) -> str:
    registry, path = _registry_and_path(name)
    if registry == "docker.io" and "/" not in path:
        path = f"library/{path}"
    if ":" not in path.rsplit("/", 1)[-1] and "@" not in path:
        path += ":latest"
    return f"{registry}/{path}"


def substitute(name: str, substitutes: dict[str, str]) -> str:
    """The image to use for `name`: an exact substitute (tags compared as Docker does: 'redis' is 'redis:latest'
    is 'docker.io/library/redis:latest'), else the longest registry prefix rule ('docker.io/': 'mirror/'), else for
    a Docker Hub image TESTCONTAINERS_HUB_IMAGE_NAME_PREFIX + its name."""
    rule = substitute_rule(name, substitutes)
    if rule is not None and not rule.endswith("/"):
        return substitutes[rule]
    registry, path = _registry_and_path(name)
    if rule is not None:
        return substitutes[rule] + (path if rule.rstrip("/") == registry else name[len(rule):])
    hub = hub_image_prefix()  # Testcontainers' TESTCONTAINERS_HUB_IMAGE_NAME_PREFIX: a 'docker.io/' rule under them
    if not hub or registry != "docker.io":
        return name  # ... on the name as people write it (`docker.io/library/redis:7` is `redis:7`: one substitute)
    return hub + (path.removeprefix("library/") if path.count("/") == 1 else path)


def hub_prefixed(name: str, substitutes: dict[str, str]) -> bool:
    """Whether substitute() gives `name` its hub image prefix (no rule of the project's applies)."""
    return substitute_rule(name, substitutes) is None and substitute(name, substitutes) != name


def _made_by_prefix(name: str, substitutes: dict[str, str]) -> str:
    return f"; {name} with {hub_prefix_source()}" if hub_prefixed(name, substitutes) else ""


def substitute_rule(name: str, substitutes: dict[str, str]) -> str | None:
    """The key of `substitutes` that substitute() takes for image `name`, or None: none applies."""
    wanted = _canonical(name)
    exact = next((original for original in substitutes
                  if not original.endswith("/") and _canonical(original) == wanted), None)
    if exact is not None:
        return exact
    registry, _ = _registry_and_path(name)
    return next((prefix for prefix in sorted((k for k in substitutes if k.endswith("/")), key=len, reverse=True)
                 if prefix.rstrip("/") == registry or name.startswith(prefix)), None)


def built_names(spec: TopologySpec) -> set[str]:
    """The names builds of `spec` give their images (`image:` beside `build:`, `build.tags`): never pulled."""
    return {s.image for s in spec.services.values() if s.build and s.image} | {
        tag for s in spec.services.values() if s.build for tag in s.build.tags}


def _present_copied_or_pulled(client: docker.DockerClient, name: str, source: docker.DockerClient | None,
                              copied: Callable[[float | None], None] = lambda seconds: None,
                              policies: Collection[str | None] = ()) -> str | None:
    """`present_or_pulled` (by the `pull_policy` of each service that runs it), but an image `source` has is copied
    from there first (an engine across several); `copied` is told when a copy begins (None) and how long it took."""
    if source is not None and not has_image(client, name) and has_image(source, name):
        try:
            started = time.monotonic()
            if copy_image(source, client, name, copying=lambda: copied(None)):
                copied(time.monotonic() - started)
            return None
        except docker.errors.APIError as exc:
            reason = str(getattr(exc, "explanation", None) or exc)[:200]
            return f"copying it from this machine's engine failed: {reason}"
    return present_or_pulled(client, name, policies)


def prepare_images(client: docker.DockerClient, spec: TopologySpec, *, source: docker.DockerClient | None = None,
                   bases: bool = True, built: set[str] | None = None, where: str = "",
                   copied: Callable[[str, list[str], float | None], None] | None = None) -> dict[str, str]:
    """Check every image the topology needs before anything is built or started: each `image:` (after
    substitution) and each FROM base of a `build:`; missing ones are pulled (all at once). A FROM base with a
    substitute gets a local alias tag (a one-line image labelled `SUBSTITUTE_FOR`) so the Dockerfile builds as is.

    Across engines (runtime/transfer.py): `spec` holds the services of `client`'s engine, `built` the names every
    build of the whole topology gives (default: those of `spec`), `source` the engine that builds; an image missing
    in `client`'s engine is copied from `source` when `source` has it (before any pull), and with `bases=False` the
    FROM bases are left to `source`; `where` names the engine in the error (default: the local one); `copied(image,
    services, seconds)` is told of each copy as it begins (seconds None) and is done.

    Returns: service name -> the image to run, for services with `image:` and no `build:` (substitutes applied).
    Raises: ImageMissing: every image neither local nor pullable, each with the services that need it.
    """
    subs = spec.image_substitutes
    # names a build gives its image (`image:` beside `build:`, `build.tags`): never pulled, the build makes them
    built = built if built is not None else built_names(spec)
    needed: dict[str, list[str]] = {}  # image to look for -> who needs it
    users: dict[str, list[str]] = {}  # image to look for -> the services that need it
    policies: dict[str, list[str | None]] = {}  # image to run -> its services' pull_policy (FROM bases: none)
    run: dict[str, str] = {}
    aliases: dict[str, str] = {}  # FROM base as written -> its substitute
    written: dict[str, str] = {}  # image to look for -> a name as written that it is for
    for name, service in spec.services.items():
        if service.build is None and service.image is not None:
            run[name] = service.image if service.image in built else substitute(service.image, subs)
            if service.image not in built:
                needed.setdefault(run[name], []).append(f"service '{name}'")
                written.setdefault(run[name], service.image)
                users.setdefault(run[name], []).append(name)
                policies.setdefault(run[name], []).append(service.pull_policy)
        elif service.build is not None and bases:
            text = dockerfile_text(spec.base_dir / service.build.context, service.build)
            if text is None:
                continue  # the build reports it
            for base in _bases(text, service.build):
                if base in built:
                    continue
                effective = substitute(base, subs)
                if effective != base:
                    aliases[base] = effective
                needed.setdefault(effective, []).append(f"FROM of service '{name}'")
                written.setdefault(effective, base)
                users.setdefault(effective, []).append(name)
    with ThreadPoolExecutor(max_workers=max(1, min(8, len(needed)))) as pool:
        problems = dict(zip(needed, pool.map(lambda image: _present_copied_or_pulled(
            client, image, source, lambda seconds: copied(image, users[image], seconds) if copied else None,
            policies.get(image, [])), needed), strict=True))
    missing = {image: problem for image, problem in problems.items() if problem}
    if missing:
        lines = "\n".join(f"  {image} (needed by {', '.join(needed[image])}{_made_by_prefix(written[image], subs)}): "
                          f"{problem}" for image, problem in missing.items())
        invalid = [image for image, problem in missing.items() if "invalid reference format" in problem]
        hint = _missing_hint() if len(invalid) < len(missing) else ""
        if invalid:  # a typo in the file, not an image to provide: said first
            hint = ("Docker refuses " + ", ".join(invalid) + " as image reference(s): references are lower-case, "
                    "[registry/]name[:tag] (a compose `${VAR}` in one must be set); fix them in the topology file. "
                    + hint).strip()
        where = where or "the local Docker engine"
        nor = ", nor in this machine's engine to copy them from," if source is not None else ""
        raise ImageMissing(f"{len(missing)} image(s) of topology {spec.name} are not in {where}{nor} and could not "
                           f"be pulled:\n{lines}", hint=hint or None, images=list(missing),
                           exit_code=EXIT_BAD_INPUT if len(invalid) == len(missing) else EXIT_ENVIRONMENT)  # typos
    for base, effective in aliases.items():
        _alias(client, base, effective)
    return run


def _alias(client: docker.DockerClient, original: str, substitute_image: str) -> None:
    """Tag `substitute_image` as `original` (a one-line image labelled as an alias, with the substitute's id), unless
    a real `original` exists (a real image is never replaced) or the alias is of the substitute as it is now."""
    try:
        wanted = client.images.get(substitute_image).id  # prepare_images has found or pulled it
    except docker.errors.APIError:
        wanted = ""
    try:
        current = client.images.get(original)
        labels = current.labels or {}
        if labels.get(SUBSTITUTE_FOR) != original or (labels.get(SUBSTITUTE) == substitute_image
                                                      and labels.get(SUBSTITUTE_ID) == wanted):
            return
    except docker.errors.ImageNotFound:
        pass
    dockerfile = f"FROM {substitute_image}\n".encode()
    try:
        client.images.build(fileobj=io.BytesIO(dockerfile), tag=original, rm=True, pull=False,
                            labels={SUBSTITUTE_FOR: original, SUBSTITUTE: substitute_image, SUBSTITUTE_ID: wanted})
    except (docker.errors.BuildError, docker.errors.APIError) as exc:
        raise ImageMissing(f"could not tag {substitute_image} as {original} (substitute for a FROM line): {exc}",
                           images=[original]) from None
