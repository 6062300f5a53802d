"""pytest's options and ini keys, generated from harness.options.OPTIONS, and the session's options resolved once
(`resolved(config)`): every value validated as the CLI validates it, an invalid one a usage error of one line."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import pytest

from harness.options import PYTEST, Option, ResolvedOptions, options, resolve
from harness.options.ini import ini_default

if TYPE_CHECKING:
    from harness.report.fuzz import Rerun

GROUP = ("topology", "pytest-topology: service topologies in containers")
_resolved = pytest.StashKey[ResolvedOptions]()


def add_options(parser: pytest.Parser) -> None:
    """Every option of the table that has a pytest flag (values as strings: validated in `resolved`), and its ini
    key."""
    group = parser.getgroup(*GROUP)
    for option in options(PYTEST):
        assert option.pytest is not None
        text = option.help + (f"; ini key: {option.ini}" if option.ini else "")
        if option.default not in (None, False) and option.kind is not bool:
            text += f" (default: {option.default})"
        text = text.replace("%", "%%")  # argparse formats help with %
        if option.kind is bool:
            group.addoption(option.pytest, dest=option.name, action="store_true", default=False, help=text)
        else:
            group.addoption(option.pytest, dest=option.name, metavar=option.metavar, default=None, help=text,
                            action="append" if option.repeatable else "store")
        if option.ini:
            parser.addini(option.ini, f"{option.help} (see {option.pytest})", type=option.ini_type,  # type: ignore[arg-type]
                          default=ini_default(option))


def resolved(config: pytest.Config) -> ResolvedOptions:
    """The session's options: the command line's, else the ini's (paths relative to the ini file), else the table's
    defaults. Raises pytest.UsageError naming each invalid value (`--fuzz-workers: a whole number of at least 1,
    not '0'`; `/p/pyproject.toml: ini topology_annotations: one of auto, github, off, not 'gitlab'`)."""
    if _resolved not in config.stash:
        from harness.errors import OptionError
        from harness.options.ini import refuse_own_table

        given = {option.name: config.getoption(option.name) for option in options(PYTEST)}
        base = config.inipath.parent if config.inipath else config.rootpath
        own = f"{config.inipath}: config option "  # how pytest starts its messages: resolve names file and key

        def ini(option: Option) -> Any:
            try:
                return config.getini(str(option.ini))
            except (ValueError, pytest.UsageError) as error:  # pytest's own parsing (a bool, a TOML type)
                raise ValueError(str(error).removeprefix(own).removeprefix(f"'{option.ini}' ")) from None

        try:
            refuse_own_table(config.inipath)
            config.stash[_resolved] = resolve(PYTEST, given, ini=ini, ini_base=base, ini_file=config.inipath)
        except OptionError as error:
            raise pytest.UsageError(str(error)) from None
    return config.stash[_resolved]


# pytest's own options that write files (`--junitxml runs/junit.xml`): a rerun hint leaves them out, so that running
# it does not overwrite what CI keeps of the first run
PYTEST_OUTPUTS = ("--junitxml", "--junit-xml", "--resultlog", "--result-log", "--report-log")
BASELINE_WRITES = ("fuzz_baseline_update", "fuzz_baseline_prune")  # they rewrite the baseline file


def fuzz_rerun(config: pytest.Config) -> Rerun:
    """How this session is run again for one fuzzed service: its command line without the options that choose the
    fuzzing (each with its value), and pytest's flags for them; the rerun hint adds them as the run used them. With
    --topology-reuse the services keep the state earlier sessions left: the hint says so, and how to get a fresh
    topology."""
    from harness.report.fuzz import Rerun

    session = resolved(config)
    flags = session.flags("fuzz")
    reused = session.topology.command("harness", "down") if session.topology_reuse else ""
    return Rerun(rerun_command(config.invocation_params.args, flags.values()), flags, reused)


def rerun_command(args: Iterable[str], fuzz_flags: Iterable[str]) -> list[str]:
    """`pytest ARGS` less the fuzzing options (`fuzz_flags`, each with its value: the hint adds them as the run used
    them) and the options that write files (pytest's --junitxml, the report page, the baseline's write modes), so
    that running the hint does not overwrite the first run's files."""
    outputs = [o for o in options(PYTEST) if o.pytest and (o.feature == "report" or o.name in BASELINE_WRITES)]
    with_value = {*fuzz_flags, *PYTEST_OUTPUTS, *(str(o.pytest) for o in outputs if o.kind is not bool)}
    switches = {str(o.pytest) for o in outputs if o.kind is bool}
    words, skip_value = ["pytest"], False
    for word in args:
        if skip_value:
            skip_value = False
        elif word in with_value:
            skip_value = True
        elif word not in switches and not word.startswith(tuple(f"{flag}=" for flag in with_value)):
            words.append(word)
    return words
