"""What a fuzz run is asked to do (FuzzOptions: the command line's or pytest's choices) and what that means for each
service: its checks, mode and phases (the service's `fuzz:` settings, else `st run`'s defaults); bad names refused
before anything starts."""

from __future__ import annotations

import dataclasses
import difflib
import os
import random
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from harness.errors import NothingToFuzz
from harness.fuzz.auth import check_auth
from harness.fuzz.engine import st_run_defaults
from harness.model.service import ServiceSpec
from harness.model.topology import TopologySpec

MODES = ("positive", "negative", "all")


@dataclass(frozen=True)
class FuzzOptions:
    """What the command line (or pytest's options) chose; None: the service's setting, else the default."""

    max_examples: int | None = None
    seed: int | None = None
    phases: list[str] | None = None
    checks: list[str] | None = None
    mode: str | None = None
    workers: int = 1  # schemathesis workers per service
    suppress_health_check: list[str] | None = None  # Hypothesis health checks not run (`st run`'s option)
    cache_dir: Path | None = None  # Hypothesis' folder; default: the user's cache folder
    baseline: Path | None = None  # schemathesis' baseline file of accepted failures (harness.fuzz.baseline)
    baseline_update: bool = False  # merge this run's failures into it (`st run --baseline-update`)
    baseline_prune: bool = False  # drop its entries this run tested and did not reproduce (`--baseline-prune`)

    def with_seed(self) -> FuzzOptions:
        """These options with a seed: the given one, else one drawn now (one seed for every service of a run)."""
        return self if self.seed is not None else dataclasses.replace(self, seed=random.randrange(2**31))

    def given(self) -> dict[str, str]:
        """The options that decide the generated data and were given (not defaults), as their values would be
        written on a command line: {"mode": "negative", "checks": "a,b", "max_examples": "20", ...}."""
        values = {"mode": self.mode, "checks": ",".join(self.checks) if self.checks else None,
                  "phases": ",".join(self.phases) if self.phases else None,
                  "max_examples": str(self.max_examples) if self.max_examples is not None else None,
                  "workers": str(self.workers) if self.workers != 1 else None,
                  "suppress_health_check": ",".join(self.suppress_health_check or []) or None,
                  # a known failure does not end the search for new ones: the baseline changes the run too
                  "baseline": str(self.baseline) if self.baseline is not None else None}
        return {name: value for name, value in values.items() if value}


DEFAULTS = FuzzOptions()  # nothing chosen: every service's own settings, else `st run`'s


def default_cache_dir() -> Path:
    """`$XDG_CACHE_HOME/pytest-topology/hypothesis` (~/.cache/... by default): never the working directory."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "pytest-topology" / "hypothesis"


def fuzz_targets(spec: TopologySpec, services: list[str] | None = None) -> list[str]:
    """The services to fuzz, in the topology's order: those with `openapi:`, or the named ones. Raises HarnessError
    when a named service has no `openapi:` or nothing is left, AuthHookError when an auth hook cannot be used."""
    names = [n for n, s in spec.services.items() if s.openapi and (not services or n in services)]
    unknown = [n for n in services or [] if n not in spec.services or not spec.services[n].openapi]
    if unknown or not names:
        fuzzable = [n for n, s in spec.services.items() if s.openapi]
        with_spec = ", ".join(fuzzable) or "none"
        what = ("; ".join(f"{name}: not a service of topology {spec.name} with `openapi:`"
                          f"{did_you_mean(name, fuzzable)}" for name in unknown) if unknown
                else f"no service of topology {spec.name} declares `openapi:`")
        raise NothingToFuzz(f"nothing to fuzz: {what} (services with one: {with_spec})", unknown=unknown)
    for name in names:
        check_auth(spec.services[name], name)
    return names


def did_you_mean(name: str, known: list[str]) -> str:
    """` (did you mean 'orders'?)` for the known name closest to a misspelt one (difflib's), else ''."""
    near = difflib.get_close_matches(name, known, n=1)
    return f" (did you mean {near[0]!r}?)" if near else ""


def refuse_unknown_names(spec: TopologySpec, names: list[str], options: FuzzOptions,
                         flags: Mapping[str, str]) -> None:
    """Check, phase and health check names schemathesis does not know, or an empty list of them, on the command
    line (`options`; `flags` name its options as the front-end does, {"checks": "--checks", ...}: harness.options) or
    in the `fuzz:
    {checks: ...}` of a service in `names`, are refused before anything starts: a misspelt check would not run and
    the run would pass without it (`st run` refuses them too); so is a number of examples under 1. Raises
    OptionError (exit 2) naming each and the names there are."""
    from harness.errors import OptionError
    from harness.fuzz.engine import check_names, health_check_names

    checks = check_names()
    problems: list[str] = []
    refused: dict[str, list[str]] = {}  # {kind of name refused: the names there are}

    def refuse(where: str, given: list[str] | None, known: list[str], what: str) -> None:
        if given is not None and not given:
            problems.append(f"{where}: no {what} named (name at least one, or leave it out for the defaults)")
            refused[what] = known
        for name in [g for g in given or [] if g not in known]:
            problems.append(f"{where}: unknown {what} {name!r}{did_you_mean(name, known)}")
            refused[what] = known

    refuse(flags["checks"], options.checks, checks, "check")
    phases = st_run_defaults().phase_names
    refuse(flags["phases"], options.phases, phases, "phase")
    refuse(flags["suppress_health_check"], options.suppress_health_check, health_check_names(), "health check")
    if options.max_examples is not None and options.max_examples < 1:
        problems.append(f"{flags['max_examples']}: at least 1 (examples per operation), not {options.max_examples}")
    source = spec.file.name if spec.file is not None else f"topology {spec.name!r}"  # or built in Python
    for name in names:
        service = spec.services[name]
        refuse(f"{source}: services.{name}.fuzz.checks", service.fuzz.checks, checks, "check")
        # (an exclusion may name a kind of finding of the harness's own too: missing_auth, network_error, ...)
        if options.checks != [] and service.fuzz.checks != [] and not checks_for(service, options.checks):
            problems.append(f"{source}: services.{name}.fuzz.exclude: every check of its run is excluded, "
                            "so nothing would be checked")
    if problems:
        lists = [f"{what}s: {', '.join(refused[what])}" for what in ("check", "phase", "health check")
                 if what in refused]
        raise OptionError("; ".join(problems) + (f". The {'; '.join(lists)}" if lists else ""))


def checks_for(spec: ServiceSpec, override: list[str] | None = None) -> list[str]:
    """The command line's checks, else the service's, else `st run`'s defaults; less the service's written
    exclusions."""
    chosen = override or spec.fuzz.checks or st_run_defaults().checks
    excluded = {e.check for e in spec.fuzz.exclude}
    return [c for c in chosen if c not in excluded]  # never empty in a run: refuse_unknown_names


def mode_for(spec: ServiceSpec, override: str | None = None) -> str:
    """The command line's mode, else the service's `fuzz: {mode: ...}`, else `st run`'s default."""
    return override or spec.fuzz.mode or st_run_defaults().mode


def run_settings(options: FuzzOptions) -> tuple[dict[str, str], list[str]]:
    """The mode, checks and phases of a run where no service's `fuzz:` says otherwise ({"mode": "all", "checks":
    "a,b", "phases": "examples,coverage"}), and the names of those that are `st run`'s defaults (not given)."""
    defaults = st_run_defaults()
    settings = {"mode": options.mode or defaults.mode, "checks": ",".join(options.checks or defaults.checks),
                "phases": ",".join(options.phases or defaults.phases)}
    return settings, [name for name in settings if not getattr(options, name)]


def phases_for(override: list[str] | None = None) -> list[str]:
    """The command line's phases, else `st run`'s default ones."""
    return override or st_run_defaults().phases
