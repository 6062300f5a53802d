"""The options a front-end was given, resolved once: every value parsed and validated by its option's validator
(one message for each invalid value, naming the flag or ini key as the user wrote it), defaults applied, pytest's ini
values read where no command-line value is given (in both front-ends: the same keys of the same file, see
harness.options.ini); then frozen per-feature objects (`topology`, `fuzz_options()`)."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from harness.errors import OptionError, TopologyFileError
from harness.options.table import CLI, Option, flags, options

if TYPE_CHECKING:
    from harness.fuzz.options import FuzzOptions
    from harness.model.topology import TopologySpec


@dataclass(frozen=True)
class TopologyOptions:
    """Which topology, and how its files are read: the files (several: compose files merged), compose profiles, the
    interpolation variables file and the image substitutes (`IMAGE=SUBSTITUTE`, the ini's apart: they are named in
    their errors as such, and the command line's win)."""

    files: tuple[Path, ...]
    profiles: tuple[str, ...] = ()
    env_file: Path | None = None
    image_substitutes: tuple[str, ...] = ()
    ini_image_substitutes: tuple[str, ...] = ()
    ini_file: Path | None = None  # the ini file whose key `topology` named the files (None: the command line)
    swarm: str = "existing"  # how the swarm of a topology across engines is had (--topology-swarm)
    project_name: str | None = None  # `-p NAME` (or COMPOSE_PROJECT_NAME): the topology's name instead of the file's
    project_from_env: bool = False  # COMPOSE_PROJECT_NAME: Compose reads it itself; the own format keeps its name

    def load(self) -> TopologySpec:
        """The topology of these options. Raises what harness.model.loader.load_topology raises; a file named by the
        ini that does not exist: TopologyFileError saying so (the ini file and its key)."""
        from harness.model.loader import load_topology, parse_substitutes

        missing = [file for file in self.files if not file.exists()] if self.ini_file is not None else []
        if missing:
            raise TopologyFileError(str(missing[0]), f"no such file or folder: the ini key `topology` in "
                                    f"{self.ini_file} names it (relative to that file's folder); correct the key, or "
                                    "give the file with --topology FILE")

        substitutes = {**parse_substitutes(self.ini_image_substitutes, "ini image_substitutes"),
                       **parse_substitutes(self.image_substitutes)}
        spec = load_topology(list(self.files), profiles=list(self.profiles), env_file=self.env_file,
                             image_substitutes=substitutes,
                             project_name=None if self.project_from_env else self.project_name)
        return spec.with_swarm(self.swarm) if self.swarm != spec.swarm else spec

    def command(self, *words: str) -> str:
        """`harness WORDS... --topology FILE...`, as a hint that names these files writes it (with what selects the
        engine when a variable of this shell did: harness.hints)."""
        from harness.hints import with_engine

        project = [f"-p {self.project_name}"] if self.project_name and not self.project_from_env else []
        return with_engine(" ".join([*words, *project, *(f"--topology {file}" for file in self.files)]))


@dataclass(frozen=True)
class ResolvedOptions:
    """Every option of one front-end (CLI or PYTEST) with its value: `resolved["fuzz_seed"]` or
    `resolved.fuzz_seed`; names are those of harness.options.table.OPTIONS."""

    front_end: str
    values: Mapping[str, Any]
    ini_substitutes: tuple[str, ...] = field(default=())
    given: frozenset[str] = frozenset()  # the names given on the command line (not defaults, not the ini's)
    command_line: str = ""  # as typed (`harness fuzz --topology t.yaml`), for the report page
    ini_file: Path | None = None  # the ini file the ini values were read from (None: none)
    from_ini: frozenset[str] = frozenset()  # the names whose value is the ini's (not the command line's, no default)

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["values"][name]
        except KeyError:
            raise AttributeError(name) from None

    def flag(self, name: str) -> str:
        """How the user of this front-end writes option `name` (`--fuzz-seed` in pytest, `--seed` in the CLI)."""
        from harness.options.table import option

        return option(name).flag(self.front_end)

    def source(self, name: str) -> str:
        """Where option `name`'s value came from, as a message names it: `/p/pyproject.toml: ini topology_report`
        when from the ini, else its flag (`--report`)."""
        if name in self.from_ini:
            from harness.options.table import option

            return f"{self.ini_file}: ini {option(name).ini}" if self.ini_file else f"ini {option(name).ini}"
        return self.flag(name)

    def flags(self, feature: str) -> dict[str, str]:
        """{name without the feature's prefix: flag} of a feature in this front-end (see table.flags)."""
        return flags(self.front_end, feature)

    @cached_property
    def topology(self) -> TopologyOptions:
        files = tuple(self.values.get("topology") or ())
        return TopologyOptions(files, tuple(self.values.get("topology_profile") or ()),
                               self.values.get("topology_env_file"), tuple(self.values.get("image_substitute") or ()),
                               self.ini_substitutes, self.ini_file if "topology" in self.from_ini else None,
                               self.values.get("topology_swarm") or "existing", self.values.get("project_name"),
                               "project_name" not in self.given)

    def fuzz_options(self, cache_dir: Path | None = None) -> FuzzOptions:
        """The fuzzing options (harness.fuzz's FuzzOptions; the seed as given: `.with_seed()` draws one)."""
        from harness.fuzz.options import FuzzOptions

        return FuzzOptions(max_examples=self.values["fuzz_max_examples"], seed=self.values["fuzz_seed"],
                           phases=self.values["fuzz_phases"], checks=self.values["fuzz_checks"],
                           mode=self.values["fuzz_mode"], workers=self.values["fuzz_workers"], cache_dir=cache_dir,
                           suppress_health_check=self.values["fuzz_suppress_health_check"],
                           baseline=self.values["fuzz_baseline"],
                           baseline_update=bool(self.values["fuzz_baseline_update"]),
                           baseline_prune=bool(self.values["fuzz_baseline_prune"]))


def resolve(front_end: str, given: Mapping[str, Any], ini: Callable[[Option], Any] | None = None,
            ini_base: Path | None = None, command: str | None = None, ini_file: Path | None = None
            ) -> ResolvedOptions:
    """The options of `front_end` from what its parser gave (`given`: name -> the raw value, None or [] or False when
    not given), each parsed by its option, else the ini's, else the default. `ini(option)` reads an option's value
    from pytest's ini file, `ini_file` (pytest's `config.getini` in pytest, harness.options.ini.IniFile.read in the
    CLI: the same keys of the same file), raising ValueError for a value of the wrong type; paths in it are relative
    to `ini_base`. `command`: the CLI command whose options these are. Raises OptionError listing every invalid
    value: `--workers: a whole number of at least 1, not '0'`, `/p/pyproject.toml: ini topology_annotations: one of
    auto, github, off, not 'gitlab'`."""
    values: dict[str, Any] = {}
    problems: list[str] = []
    ini_substitutes: tuple[str, ...] = ()
    named: set[str] = set()
    from_ini: set[str] = set()
    for option in options(front_end, command if front_end == CLI else None):
        raw = given.get(option.name)
        if raw not in (None, [], False):
            named.add(option.name)
        positional = front_end == CLI and not option.cli[0].startswith("-")
        where = option.metavar or option.name if positional else option.flag(front_end)  # as the user wrote it
        if raw in (None, [], False) and front_end == CLI and option.env and os.environ.get(option.env):
            raw, where = os.environ[option.env], option.env  # as Compose: set but empty is not set
        in_ini = f"{ini_file}: ini {option.ini}" if ini_file is not None else f"ini {option.ini}"  # key, in its file
        try:
            value = [option.parse(text, where) for text in raw] if option.repeatable and raw else \
                option.parse(raw, where)
            if ini is not None and option.ini:
                try:
                    ini_value = ini(option)
                except ValueError as error:
                    raise ValueError(f"{in_ini}: {error}") from None
                value = _with_ini(option, value, ini_value, ini_base, in_ini)
                if option.name not in named and not option.ini_merged and ini_value not in (None, "", [], False):
                    from_ini.add(option.name)
                if option.name == "image_substitute":
                    ini_substitutes = tuple(ini_value or ())
        except ValueError as error:
            problems.append(str(error))
            continue
        values[option.name] = _default(option, value, ini_base if ini is not None and option.ini else None)
    if problems:
        raise OptionError("; ".join(problems))
    return ResolvedOptions(front_end, MappingProxyType(values), ini_substitutes, frozenset(named),
                           ini_file=ini_file if ini is not None else None, from_ini=frozenset(from_ini))


def _with_ini(option: Option, value: Any, ini_value: Any, base: Path | None, where: str) -> Any:
    """A command-line value wins over the ini's (merged lists: the ini's then the command line's; the image
    substitutes' ini values are kept apart, see TopologyOptions)."""
    if option.name == "image_substitute":
        return value
    if option.ini_merged:
        return [*(ini_value or []), *(value or [])]
    if value not in (None, [], False) or ini_value in (None, "", [], False):
        return value
    if option.kind is bool:
        return bool(ini_value)
    if option.repeatable:
        return [_relative(option.parse(str(text), where), base) for text in ini_value]
    return _relative(option.parse(str(ini_value), where), base)


def _relative(value: Any, base: Path | None) -> Any:
    return base / value if isinstance(value, Path) and base is not None else value


def _default(option: Option, value: Any, base: Path | None) -> Any:
    """The value, else the option's default (a path of an option with an ini key: relative to the ini file)."""
    if option.repeatable:
        return list(value or [])
    return _relative(option.default, base) if value is None else value
