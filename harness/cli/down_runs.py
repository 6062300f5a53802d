"""`harness down` of runs found by what labels them rather than by their file: `--run RUN` (one run) and `-p NAME`
(every run of topology NAME, as `docker compose -p NAME down`)."""

from __future__ import annotations

from rich.console import Console

from harness.engine_source import resolve_engine
from harness.errors import OptionError, TopologyNotRunning
from harness.hints import with_engine


def down_run(run_id: str, out: Console) -> int:
    """`harness down --run RUN`: one run, kept or left behind; never one its live owner still uses."""
    from harness.runtime import labels as L
    from harness.runtime.engine import connect
    from harness.runtime.engine_runs import remove_run_anywhere

    client = connect()
    run = next((run for run in L.list_runs(client) if run.run_id == run_id), None)
    if run is None:
        raise TopologyNotRunning(f"harness down --run {run_id}: no run {run_id} on the engine "
                                 f"{resolve_engine().where} (removed already? on another engine?); "
                                 f"`{with_engine('harness ps')}` lists the runs")
    if not run.kept and L.owner_gone(run.owner) is False:
        raise OptionError(f"harness down --run {run_id}: run {run_id} of topology {run.topology} belongs to "
                          f"{L.owner_process(run.owner)}, which is still running (`harness up`, or a test session); "
                          "stop that process (Ctrl-C) and it removes its run")
    removal = remove_run_anywhere(client, run)  # across engines: from each of them
    out.print(removal.said(f"removed {removal.containers} container(s) of run {run_id} (topology {run.topology})"),
              markup=False, highlight=False, soft_wrap=True)
    removal.raise_unanswered(with_engine(f"harness down --run {run_id}"))
    return 0


def down_project(name: str, out: Console) -> int:
    """`harness down -p NAME`: the runs of topology NAME on the engine, kept or left behind (not one a live owner
    still uses), wherever their file is, as `docker compose -p NAME down` finds a project by its label."""
    from harness.runtime import labels as L
    from harness.runtime.engine import connect
    from harness.runtime.engine_runs import Removed, remove_run_anywhere

    client = connect()
    removal = Removed()
    for run in L.list_runs(client):
        if run.topology == name and (run.kept or L.owner_gone(run.owner) is not False):
            removal += remove_run_anywhere(client, run)
    out.print(removal.said(f"removed {removal.containers} container(s){removal.across} of topology {name}"),
              markup=False, highlight=False, soft_wrap=True)
    removal.raise_unanswered(with_engine(f"harness down -p {name}"))
    return 0
