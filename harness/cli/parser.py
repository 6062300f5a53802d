"""The `harness` parser, generated from harness.options.OPTIONS, and what a command line resolves to.

One convention for the topology file, on every command that reads one: `--topology FILE` (`-f FILE`, as `docker
compose -f`), repeatable for compose files merged. A file given as a bare argument (`harness up FILE`, the older form;
`harness logs FILE SERVICE`, `harness fault FILE CONSUMER`) is read the same, with a one-line note that says the
option's form.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

from harness.errors import OptionError
from harness.options import CLI, COMMANDS, Option, ResolvedOptions, option, options, resolve
from harness.options.ini import IniFile
from harness.options.table import TOPOLOGY_COMMANDS

CONVENTION = ("The topology file: --topology FILE (or -f FILE) on every command that reads one; repeat it for "
              "compose files merged by Compose (-f a.yml -f b.yml); a folder reads its compose file and override as "
              "`docker compose` does. An option with an ini key is read from pytest's ini file too (pytest.ini, "
              "[tool.pytest.ini_options] of pyproject.toml, tox.ini or setup.cfg, the one pytest finds from this "
              "folder upwards; its paths relative to it) when the command line does not give it. Exit codes: 0 "
              "passed, 1 failures found (also a service that exits or never gets ready), 2 bad input, 3 environment "
              "(Docker engine, images, builds), 4 internal error, 130 interrupted (Ctrl-C), 143 terminated "
              "(SIGTERM).")
# commands whose bare arguments are the topology files in the older form (fault and logs: see `_bare_files`)
BARE_FILES = ("up", "down", "graph", "verify", "fuzz", "drift")
NEEDS_TOPOLOGY = ("up", "graph", "fault", "verify", "fuzz", "drift", "can-i-deploy", "record-deployment")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        """One line, exit 2 (argparse prints the usage first)."""
        self.exit(2, f"{self.prog}: error: {message} (`{self.prog} --help` lists the options)\n")


def build_parser() -> argparse.ArgumentParser:
    """`harness` and its commands, every option from the table (help, metavar, default)."""
    parser = _Parser(prog="harness", description="Service topologies for tests, in containers.", epilog=CONVENTION)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command, text in COMMANDS.items():
        sub = commands.add_parser(command, help=text, description=text,
                                  epilog=CONVENTION.split(" Exit codes")[0] if command in TOPOLOGY_COMMANDS else None)
        if command in BARE_FILES or command == "logs":  # the older form: the files as bare arguments
            sub.add_argument("files", nargs="*", type=Path, help=argparse.SUPPRESS)
        for each in options(CLI, command):
            _add(sub, each)
    parser.add_argument("--version", action="version", version=f"harness (pytest-topology) {_version()}")
    return parser


def _version() -> str:
    """The installed distribution's version (what a bug report names)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("pytest-topology")
    except PackageNotFoundError:
        return "unknown (not installed)"


def _add(parser: argparse.ArgumentParser, option: Option) -> None:
    default = "" if option.default in (None, False) or option.kind is bool else f" (default: {option.default})"
    ini = f"; ini key: {option.ini}" if option.ini else ""  # as pytest --help says it
    text = (option.help + ini + default).replace("%", "%%")  # argparse formats help with %
    if not option.cli[0].startswith("-"):
        parser.add_argument(option.name, nargs="*" if option.repeatable else None, metavar=option.metavar, help=text)
    elif option.kind is bool:
        parser.add_argument(*option.cli, dest=option.name, action="store_true", help=text)
    elif option.const is not None:  # a flag whose value may be left out (`--cut`: reject)
        parser.add_argument(*option.cli, dest=option.name, metavar=option.metavar, help=text, nargs="?",
                            const=option.const)
    else:
        parser.add_argument(*option.cli, dest=option.name, metavar=option.metavar, help=text,
                            action="append" if option.repeatable else "store")


def parse(argv: list[str] | None, say: Callable[[str], None]) -> tuple[str | None, ResolvedOptions | None]:
    """The command and its resolved options: the command line's, else pytest's ini file's (found from the current
    folder upwards as pytest finds it: harness.options.ini), else the defaults (None, None: no command, help printed).
    Exits 2 (argparse) on an unknown option; raises OptionError (exit 2) on an invalid value or ini file; `say` gets
    the note on a bare topology file."""
    parser = build_parser()
    args = parser.parse_args(argv)
    command = args.command
    if not command:
        parser.print_help()
        return None, None
    given = vars(args)
    ini = IniFile.find(Path.cwd()) if any(o.ini for o in options(CLI, command)) else None
    _bare_files(command, given, say, ini_topology=_names_topology(ini))
    _put_python_path_first(ini)
    resolved = resolve(CLI, given, command=command, ini=ini.read if ini is not None else None,
                       ini_base=ini.base if ini is not None else None, ini_file=ini.path if ini is not None else None)
    if command in NEEDS_TOPOLOGY and not resolved.topology.files:
        raise OptionError(f"harness {command}: name the topology file: harness {command} --topology FILE (or set "
                          f"the ini key `topology` in {_ini_name(ini)})")
    return command, dataclasses.replace(resolved, command_line="harness " + " ".join(sys.argv[1:] if argv is None
                                                                                 else argv))


def _put_python_path_first(ini: IniFile | None) -> None:
    """The ini's `pythonpath` first on sys.path, as pytest puts it: the states modules `harness verify` loads import
    what they import under pytest."""
    if ini is None:
        return
    try:
        folders = ini.python_path()
    except ValueError as error:
        raise OptionError(f"{ini.path}: ini pythonpath: {error}") from None
    for folder in reversed(folders):
        sys.path.insert(0, str(folder))


def _names_topology(ini: IniFile | None) -> bool:
    try:
        return ini is not None and bool(ini.read(option("topology")))
    except ValueError:
        return False  # a value of the wrong type: resolve says so


def _ini_name(ini: IniFile | None) -> str:
    """The ini file to set a key in: the one pytest reads here, else the usual table."""
    return str(ini.path) if ini is not None and ini.path is not None else \
        "pytest's ini file: [tool.pytest.ini_options] of pyproject.toml, or pytest.ini"


def _bare_files(command: str, given: dict[str, Any], say: Callable[[str], None], ini_topology: bool = False) -> None:
    """Topology files given as bare arguments become `topology`, with a note that says the option's form. `harness
    fault WORD ...`: WORD is the topology file (the older form) unless the ini names one: then only when WORD is a
    file (`harness fault CONSUMER PROVIDER` with the ini's topology)."""
    files = [str(f) for f in given.pop("files", None) or []]
    edge = given.get("edge") or []
    if command == "fault" and not given.get("topology") and edge and (not ini_topology or Path(edge[0]).is_file()):
        files, given["edge"] = edge[:1], edge[1:]  # `harness fault FILE [CONSUMER [PROVIDER]]`
    if not files:
        return
    if given.get("topology"):
        raise OptionError(f"harness {command}: the topology file is given twice ({' '.join(files)} and --topology): "
                          f"give each one as --topology FILE")
    given["topology"] = files
    rest = {"fault": given.get("edge") or [], "logs": [given.get("service") or ""]}.get(command, [])
    say(f"note: the topology file is an option on every command: harness {command} "
        + " ".join(f"--topology {file}" for file in files) + "".join(f" {word}" for word in rest if word)
        + f" (a bare {'file is' if len(files) == 1 else 'list of files is'} read the same)")
