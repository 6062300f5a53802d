"""`harness logs SERVICE`: a service's log from the engine that runs it (across engines too)."""

from __future__ import annotations

import io
import sys
import tarfile
from typing import TYPE_CHECKING

from rich.console import Console

from harness.cli.topologies import _shown, load
from harness.errors import TopologyNotRunning
from harness.hints import with_engine
from harness.options import ResolvedOptions

if TYPE_CHECKING:
    from docker.models.containers import Container

    from harness.model.topology import TopologySpec
    from harness.runtime.labels import Run


def _logs(options: ResolvedOptions, out: Console, err: Console) -> int:
    import docker.errors

    from harness.model.secrets import Masker, secret_values
    from harness.runtime import labels as L

    file = spec = None
    project = options.topology.project_name  # `-p NAME` alone: that project's run, as `docker compose -p NAME logs`
    if options.topology.files:
        spec = load(options, err, notes=False)
        file, project = spec.identity, spec.name
    runs, unanswered = _runs_everywhere(spec, file)
    if project:
        runs = [run for run in runs if run.topology == project][:1]  # the newest run of that topology
    matches = L.containers_named(runs, options.service)  # a service's, or a replica's (NAME-N)
    if not matches and spec is not None and runs and not getattr(spec.services.get(options.service), "replicas", 1):
        return 0  # a service of 0 replicas: nothing to print, as `docker compose logs`
    if not matches:
        raise TopologyNotRunning(f"no running service '{options.service}'"
                                 + (f" in topology {project} ({' '.join(map(str, options.topology.files))})"
                                    if project else "")
                                 + (f"; {', '.join(unanswered)} did not answer (start it, or fix its address)"
                                    if unanswered else "")
                                 + f"; `{with_engine('harness ps')}` lists what is running")
    if len({run.run_id for run, _ in matches}) > 1:
        names = ", ".join(f"{run.topology} ({_shown(run.file)}, run {run.run_id})" for run, _ in matches)
        raise TopologyNotRunning(f"service '{options.service}' runs in several topologies: {names}; "
                                 "choose one with --topology FILE")
    tail = {"tail": options.tail} if options.tail else {}
    replicas = sorted((c for _, c in matches), key=L.replica_of)
    texts = []
    try:
        for listed in replicas:
            container = listed.client.containers.get(listed.id)  # on its engine; inspected: its environment,
            # whose secrets are hidden
            environment = dict(entry.partition("=")[::2] for entry in container.attrs["Config"].get("Env") or [])
            given = _given_secrets(container)  # a secret whose variable is not set now (read for a start only)
            texts.append(Masker(spec, extra=secret_values(environment) | given)(
                container.logs(**tail, timestamps=len(replicas) > 1).decode("utf-8", "replace")))
    except docker.errors.NotFound:
        raise TopologyNotRunning(f"service '{options.service}' was removed while its log was being read (its topology "
                                 f"was taken down); `{with_engine('harness ps')}` lists what is running") from None
    from harness.report.text import interleaved

    prefixes = [L.replica_name(options.service, L.replica_of(c), len(replicas)) for c in replicas]
    sys.stdout.write(texts[0] if len(texts) == 1 else interleaved(prefixes, texts))
    return 0


def _given_secrets(container: Container) -> set[str]:
    """The contents of the files under /run/secrets/ of `container` (the secrets it was started with), to be hidden
    in its log even when what gave them (a variable, a file) is not there now; none if it has no such folder."""
    import docker.errors

    from harness.model.compose_values import SECRETS_DIR

    try:
        stream, _ = container.get_archive(SECRETS_DIR)
        archive = tarfile.open(fileobj=io.BytesIO(b"".join(stream)))
    except docker.errors.NotFound:
        return set()
    values: set[str] = set()
    with archive:
        for member in archive.getmembers():
            content = archive.extractfile(member) if member.isfile() else None
            if content is not None:
                text = content.read().decode("utf-8", "replace")
                values |= {text, text.strip()} - {""}
    return values


def _runs_everywhere(spec: TopologySpec | None, file: str | None) -> tuple[list[Run], list[str]]:
    """Live runs (of `file`, or all), each with its containers on every engine it runs on, and the engines that did
    not answer. A topology file across engines: the runs on its engines (this machine's engine may be none of
    them); else the runs on this machine's engine, those across engines completed from the engines they name."""
    from harness.runtime import labels as L
    from harness.runtime.engine import connect
    from harness.runtime.engine_runs import answering, runs_on, spread
    from harness.runtime.engines import file_engines

    if spec is not None and spec.engines:
        file_engines(spec)  # a Docker context that does not exist: the file's error (exit 2), not an engine's
        clients, unanswered = answering((engine.name, engine.host) for engine in spec.engines)
        return [run for run in runs_on(clients.values(), spec.identity)
                if run.containers and (run.kept or run.owner_alive)], unanswered
    client = connect()
    runs, unanswered = [], []
    for run in L.find_runs(client, file):
        found = spread(client, run)
        if found is not None:
            unanswered += [f"{where} of run {run.run_id}" for where in found.unanswered]
        runs.append(found.run if found is not None else run)
    return runs, unanswered
