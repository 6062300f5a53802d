"""`harness prune`: unused built images removed, from this machine's engine and (given a topology file across
engines) from each of its engines."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from harness.cli.topologies import load
from harness.hints import with_engine
from harness.options import ResolvedOptions


def _prune(options: ResolvedOptions, out: Console, err: Console) -> int:
    from harness.errors import DockerUnavailable
    from harness.runtime.engine import connect, resolve_engine
    from harness.runtime.engine_runs import answering
    from harness.runtime.engines import file_engines
    from harness.runtime.prune import prune_images, under

    engines = {"": connect()}  # this machine's engine (or DOCKER_HOST's): it builds
    unanswered: list[str] = []
    spec = load(options, err, notes=False) if "topology" in options.given else None  # not the ini's: as before
    if spec is not None and spec.engines:  # the images built here were copied to each engine that ran them
        local = resolve_engine().address
        file_engines(spec)  # a Docker context that does not exist: the file's error (exit 2), not an engine's
        clients, unanswered = answering((e.name, e.host) for e in spec.engines if e.host != local)
        engines.update({f" from engine '{name}'": client for name, client in clients.items()})
    removed = 0
    for where, client in engines.items():
        pruned = prune_images(client, keep=options.keep,  # substitutes have no folder: engine-wide, only with --all
                              wanted=(lambda context: True) if options.prune_all else under(Path.cwd()),
                              substitutes=options.prune_all)
        for what in pruned.removed:
            out.print(f"removed {what}{where}", markup=False, highlight=False)
        for context in pruned.busy:
            out.print(f"left {context} alone{where}: a session is building or starting from it (run "
                      f"`{with_engine('harness prune')}` again once it has started)", markup=False, highlight=False)
        removed += len(pruned.removed)
    where = "" if options.prune_all else f" (build contexts under {Path.cwd()}; --all: anywhere, and substitute tags)"
    on = f" on {len(engines)} engines" if len(engines) > 1 else ""
    out.print(f"removed {removed} built image(s) or tag(s){on}{where}", markup=False, highlight=False)
    if unanswered:
        assert spec is not None
        raise DockerUnavailable(f"{', '.join(unanswered)} of topology {spec.name} did not answer: its images are left "
                                "there", hint="Start that engine (or fix its address under `engines:`) and run "
                                f"`{options.topology.command('harness prune')}` again.")
    return 0
