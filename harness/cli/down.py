"""`harness down`: the runs of a topology file (pre_stop hooks first), one run (`--run`), a project's (`-p NAME`), or
every kept run (`--all`). The runs are found by the file label they carry, so a file that can no longer be read (broken
after `up`, or one that pytest-topology refuses although Docker Compose reads it) still has its runs removed."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console

from harness.cli.down_runs import down_project, down_run
from harness.cli.topologies import _shown, load, say_other_projects
from harness.errors import ComposeUnavailable, HarnessError, TopologyFileError
from harness.hints import down_command, with_engine
from harness.options import ResolvedOptions

if TYPE_CHECKING:
    import docker

    from harness.model.topology import TopologySpec


def _down(options: ResolvedOptions, out: Console, err: Console) -> int:
    from harness.errors import OptionError
    from harness.model.secrets import Masker
    from harness.runtime import hooks
    from harness.runtime import labels as L
    from harness.runtime.engine import connect
    from harness.runtime.engine_runs import remove_leftovers_anywhere

    # -p given (COMPOSE_PROJECT_NAME, a shell's setting, does not stand against --run or --all)
    if sum(map(bool, ("topology" in options.given or "project_name" in options.given, options.run_id,
                      options.down_all))) > 1:
        raise OptionError("harness down: give one of --topology FILE (with -p NAME or not), -p NAME, --run RUN or "
                          "--all")
    if options.run_id:
        return down_run(options.run_id, out)
    if options.topology.project_name and "topology" not in options.given and not options.down_all:
        return down_project(options.topology.project_name, out)  # as `docker compose -p NAME down`: no file read
    if options.topology.files and not options.down_all:  # given, or the ini's (--run and --all leave it aside)
        try:
            spec = load(options, err, notes=False)
        except (TopologyFileError, ComposeUnavailable) as error:  # its runs are found by their label all the same
            return _down_unread(options, error, out, err)
        if spec.engines:
            return _down_across_engines(spec, out, options.topology.command("harness down"))
        client = connect()
        # as `docker compose down`: the pre_stop hooks of the file as it is now, then removal, whatever they did
        # (and a run of it across engines, the file edited since, from every engine of the run); one project: the
        # runs of the file under its name now (-p, COMPOSE_PROJECT_NAME, `name:`, the folder's), not another -p's
        failures, removal = hooks.down(
            [(client, run.run_id) for run in L.list_runs(client, spec.identity)
             if run.topology == spec.name and (run.kept or not run.owner_alive)],
            spec, lambda: remove_leftovers_anywhere(client, include_kept=True, file=spec.identity, topology=spec.name))
        ini = options.topology.ini_file
        out.print(removal.said(f"removed {removal.containers} container(s){removal.across}" + (
                  f" of topology {spec.name} (the ini key `topology` in {ini}; `harness down --all`: every kept "
                  "topology)" if ini is not None else f": no run of topology {spec.name} ({_shown(spec.identity)}) "
                  "to remove" if not removal.containers and not removal.unanswered else "")), markup=False,
                  highlight=False, soft_wrap=True)
        removal.raise_unanswered(options.topology.command("harness down"))
        say_other_projects(client, spec, err)
        _say_other_file_sets(client, spec, err)
        if failures:  # a hook's output may carry a secret
            raise Masker(spec).error(hooks.combined(failures))
        return 0
    # a run across engines is removed from each of its engines (its objects name them), whichever engine this is
    removal = remove_leftovers_anywhere(connect(), include_kept=True, under=None if options.down_all else Path.cwd())
    out.print(removal.said(f"removed {removal.containers} container(s){removal.across}" + ("" if options.down_all else
              f" of topology files under {Path.cwd()} (`harness down --all`: wherever their file is)")))
    # what is left is removed by the file of its run (which names its engines), not by --all again (which, pasted
    # without the engine selection, would remove every kept run of another engine)
    removal.raise_unanswered("`, `".join(map(down_command, removal.left_files))  # whole paths: pasted anywhere
                             or with_engine("harness down --all" if options.down_all else "harness down"))
    return 0


def _down_across_engines(spec: TopologySpec, out: Console, again: str) -> int:
    """`harness down FILE` of a topology across engines: its runs removed from every engine (pre_stop hooks first).
    The engines are not checked to form a swarm (removing needs none: the swarm may be gone, left with the last run);
    one that does not answer is named (exit 3) once the rest is removed."""
    from harness.model.secrets import Masker
    from harness.runtime import hooks
    from harness.runtime import labels as L
    from harness.runtime.engine_runs import Removed, answering, remove_leftovers_anywhere
    from harness.runtime.engines import file_engines

    file_engines(spec)  # a Docker context that does not exist: the file's error (exit 2), not an engine's
    clients, unanswered = answering((engine.name, engine.host) for engine in spec.engines)

    def remove() -> Removed:  # each run from every engine it ran on (those of its label: the file may name others now)
        removal = Removed()
        for client in clients.values():
            removal += remove_leftovers_anywhere(client, include_kept=True, file=spec.identity, topology=spec.name)
        return removal

    failures, removal = hooks.down([(client, run.run_id) for client in clients.values()
                                    for run in L.list_runs(client, spec.identity)
                                    if run.topology == spec.name and (run.kept or not run.owner_alive)], spec, remove)
    out.print(removal.said(f"removed {removal.containers} container(s) of topology {spec.name} from "
                           f"{len(clients)} engine{'' if len(clients) == 1 else 's'}"), markup=False, highlight=False,
              soft_wrap=True)
    removal.unanswered += [f"{where} of topology {spec.name}" for where in unanswered  # unless named with a run
                           if not any(named.startswith(f"{where} ") for named in removal.unanswered)]
    removal.raise_unanswered(again)
    if failures:
        raise Masker(spec).error(hooks.combined(failures))
    return 0


def _say_other_file_sets(client: docker.DockerClient, spec: TopologySpec, err: Console) -> None:
    """`harness down a.yml` removes the runs of a.yml alone: a run of a.yml merged with other files is another
    topology (as `docker compose -f a.yml -f b.yml`); say how to remove it rather than leave it unsaid."""
    from harness.runtime import labels as L

    others = {run.file for run in L.find_runs(client) if run.file != spec.identity
              and {str(f) for f in spec.files} <= set(run.file.split(","))}
    for files in sorted(others):
        err.print(f"note: a run of {' + '.join(_shown(f) for f in files.split(','))} is left running (another set "
                  f"of files); remove it with: {down_command(','.join(_shown(f) for f in files.split(',')))}",
                  markup=False, soft_wrap=True)


def file_identity(options: ResolvedOptions) -> str | None:
    """The label its runs carry (`TopologySpec.identity`) of the topology files of `options`, found without reading
    them; None when they cannot be named (a folder without a compose file)."""
    from harness.model.files import topology_files

    try:
        files, _ = topology_files(list(options.topology.files))
    except TopologyFileError:
        return None
    return ",".join(map(str, files))


def _down_unread(options: ResolvedOptions, error: HarnessError, out: Console, err: Console) -> int:
    """`harness down FILE` of a file that cannot be read now (`error`): its runs removed by their label, without its
    pre_stop hooks (a note says why). With none to remove, a file Docker Compose reads is not an error (its `down`
    does nothing either, exit 0); one Compose cannot read is (as `docker compose down`), `error` said."""
    from harness.runtime import labels as L
    from harness.runtime.engine import connect
    from harness.runtime.engine_runs import remove_leftovers_anywhere

    identity = file_identity(options)
    client = connect()
    name = options.topology.project_name  # given: that project's runs only; else every run of the file (no name read)
    runs = [run for run in L.list_runs(client, identity) if (run.kept or not run.owner_alive)
            and name in (None, run.topology)] if identity else []
    if not runs:
        if not getattr(error, "compose_reads", False):  # as `docker compose down`: the file's error
            error.hint = "\n".join(filter(None, [error.hint, f"(no run of {_shown(identity or '')} to remove)"]))
            error.args = (f"{error.message}\n{error.hint}",)
            raise error
        out.print(f"removed 0 container(s): no run of {_shown(identity or '')} to remove", markup=False,
                  highlight=False, soft_wrap=True)
        return 0
    err.print(f"note: {error.message.splitlines()[0]}" "\n"
              "note: its runs are removed by their label, without the pre_stop "
              "hooks of the file (it cannot be used as it is now)", markup=False, highlight=False, soft_wrap=True)
    removal = remove_leftovers_anywhere(client, include_kept=True, file=identity, topology=name)
    names = ", ".join(sorted({run.topology for run in runs}))
    out.print(removal.said(f"removed {removal.containers} container(s){removal.across} of topology {names}"),
              markup=False, highlight=False, soft_wrap=True)
    removal.raise_unanswered(options.topology.command("harness down"))
    return 0
