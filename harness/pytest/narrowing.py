"""What on a pytest session's command line (its arguments and PYTEST_ADDOPTS) may collect fewer tests than `pytest`
run with no arguments in the rootdir: the ini file's `addopts` are part of that default run, the command line is not.

Each of pytest's options is decided from what pytest does with it (read in _pytest/main.py, config/, python.py):
an option that only shows, reports or orders, or that selects after collecting (-k, -m, --deselect, --lf, --sw: what
those leave out is measured where tests are collected), cannot narrow what is collected; one that changes what is
collected (--ignore, -c, --rootdir, --confcutdir, --noconftest, --pyargs, -o testpaths/python_files/...,
-p no:PLUGIN that provides tests) may, and so does any option pytest does not define (another plugin's: what it
does is not known). Options of pytest-xdist and of this plugin collect nothing."""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path
from typing import Any

import pytest

# pytest's own options (by dest) that cannot narrow collection: output, reports, debugging, warnings, failing fast
# (a session stopped early did not pass: nothing is published), selection after collection (measured), or widening
_WHOLE = frozenset({
    "keyword", "markexpr", "quiet", "deselect", "lf", "last_failed_no_failures", "stepwise", "stepwise_skip",
    "stepwise_reset", "failedfirst", "newfirst", "cacheclear", "cacheshow", "markers", "maxfail", "strict_config",
    "strict_markers", "strict", "showfixtures", "show_fixtures_per_test", "usepdb", "usepdb_cls", "trace", "capture",
    "runxfail", "durations", "durations_min", "verbose", "no_header", "no_summary", "fold_skipped",
    "force_short_summary", "reportchars", "disable_warnings", "showlocals", "tbstyle", "xfail_tb", "showcapture",
    "fulltrace", "color", "code_highlight", "pastebin", "xmlpath", "junitprefix", "pythonwarnings", "max_warnings",
    "collectonly", "keepduplicates", "collect_in_virtualenv", "continue_on_collection_errors", "importmode",
    "doctestmodules", "doctestreport", "doctestglob", "doctest_continue_on_failure", "basetemp", "version", "help",
    "traceconfig", "debug", "assertmode", "setuponly", "setupshow", "setupplan", "log_level", "log_format",
    "log_date_format", "log_cli_level", "log_cli_format", "log_cli_date_format", "log_file", "log_file_mode",
    "log_file_level", "log_file_format", "log_file_date_format", "log_auto_indent", "logger_disable",
    # pytest-xdist: where tests run, not which
    "numprocesses", "maxprocesses", "maxworkerrestart", "dist", "loadscopereorder", "tx", "px", "distload",
    "rsyncdir", "rsyncignore", "testrunuid", "maxschedchunk", "looponfail",
})
# ini keys that cannot narrow collection when overridden with -o (a failing session publishes nothing)
_WHOLE_INI = frozenset({
    "console_output_style", "junit_duration_report", "junit_family", "junit_log_passing_tests", "junit_logging",
    "junit_suite_name", "truncation_limit_chars", "truncation_limit_lines", "tmp_path_retention_count",
    "tmp_path_retention_policy", "faulthandler_timeout", "faulthandler_exit_on_timeout", "assertion_text_diff_style",
    "enable_assertion_pass_hook", "strict", "strict_config", "strict_markers", "strict_parametrization_ids",
    "strict_xfail", "xfail_strict", "markers", "minversion", "required_plugins", "max_warnings", "filterwarnings",
    "cache_dir", "doctest_encoding", "doctest_optionflags", "parametrize_long_str_id_strategy",
    "empty_parameter_set_mark", "looponfailroots", "rsyncdirs", "rsyncignore",
})
# pytest's own options that change what is collected (by dest: the flag said)
_NARROWING = {"ignore": "--ignore", "ignore_glob": "--ignore-glob", "inifilename": "-c/--config-file",
              "rootdir": "--rootdir", "confcutdir": "--confcutdir", "noconftest": "--noconftest", "pyargs": "--pyargs",
              "disable_plugin_autoload": "--disable-plugin-autoload",
              "doctest_ignore_import_errors": "--doctest-ignore-import-errors"}
_WHOLE_INI_PREFIXES = ("log_", "verbosity_")
# pytest's builtin plugins that collect tests (python files, unittest classes, doctests): blocking one narrows
_COLLECTING_BUILTINS = frozenset({"python", "unittest", "doctest"})
_COLLECTING_NOTHING = frozenset({"xdist", "xdist.looponfail"})


def command_line_narrowing(config: pytest.Config) -> list[str]:
    """Why the session's command line (arguments, then PYTEST_ADDOPTS) and pytest's plugin variables may collect
    fewer tests than `pytest` with no arguments in the rootdir, one reason per option (`--ignore given`, `-o
    testpaths given (in PYTEST_ADDOPTS)`, `-p no:NAME given`); [] when nothing may. Test paths and node ids given are
    judged by what they cover (harness.pytest.pact), not here."""
    from harness.options import PYTEST, options

    own = {option.name for option in options(PYTEST)}
    own_ini = {option.ini for option in options(PYTEST) if option.ini}
    reasons = []
    addopts = shlex.split(os.environ.get("PYTEST_ADDOPTS", ""))
    args = [str(arg) for arg in config.invocation_params.args]
    try:
        whole = vars(config._parser.parse_known_args([*addopts, *args]))  # as pytest reads them together
    except (pytest.UsageError, SystemExit):  # pytest took this command line: not expected
        return [f"a command line that cannot be read again ({shlex.join([*addopts, *args])})"]
    for where, given in (("", args), (" (in PYTEST_ADDOPTS)", addopts)):
        reasons += [reason + where for reason in _given(config, given, whole, own, own_ini)]
    if os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD"):
        reasons.append("PYTEST_DISABLE_PLUGIN_AUTOLOAD set (plugins that provide tests are not loaded)")
    if os.environ.get("PYTEST_PLUGINS"):
        reasons.append("PYTEST_PLUGINS set (a plugin the default run does not load may leave tests out)")
    return reasons


def _given(config: pytest.Config, args: list[str], whole: dict[str, Any], own: set[str],
           own_ini: set[str]) -> list[str]:
    """The reasons of the options in `args` (one source of the command line); `whole`: the whole command line read."""
    if not args:
        return []
    parser = config._parser
    try:
        given = vars(parser.parse_known_args(args))
        default = vars(parser.parse_known_args([]))
    except (pytest.UsageError, SystemExit):
        return [f"a command line that cannot be read again ({shlex.join(args)})"]
    flags = _flags(config)
    reasons = []
    for dest, value in given.items():
        if dest == "file_or_dir" or value == default.get(dest) or dest in _WHOLE or dest in own:
            continue
        flag = flags.get(dest, f"--{dest}")
        if dest == "override_ini":
            reasons += [f"-o {key} given" for key in _ini_keys(value) if key not in own_ini and key not in _WHOLE_INI
                        and not key.startswith(_WHOLE_INI_PREFIXES)]
        elif dest == "plugins":
            reasons += [f"-p {name} given" for name in value if _plugin_may_narrow(config, name.strip())]
        elif dest == "inifilename" and _found_anyway(config, whole, "inifile"):
            continue
        elif dest == "rootdir" and _found_anyway(config, whole, "rootdir"):
            continue
        elif dest == "confcutdir" and Path(value).resolve() == (
                config.inipath.parent if config.inipath else config.rootpath).resolve():
            continue
        elif dest in _NARROWING:
            reasons.append(f"{_NARROWING[dest]} given")
        else:
            reasons.append(f"{flag} given (an option of another plugin: whether it leaves tests out is not known)")
    return reasons


def _flags(config: pytest.Config) -> dict[str, str]:
    """Each option's dest -> its flag (the first long one: `ignore_glob` -> `--ignore-glob`)."""
    found: dict[str, str] = {}
    for action in config._parser.optparser._actions:
        flags = sorted(action.option_strings, key=lambda flag: not flag.startswith("--"))
        if flags:
            found.setdefault(action.dest, flags[0])
    return found


def _ini_keys(overrides: list[str]) -> list[str]:
    return list(dict.fromkeys(text.split("=", 1)[0].strip() for text in overrides))


def _plugin_may_narrow(config: pytest.Config, name: str) -> bool:
    """`-p no:NAME` blocks a plugin: it narrows when the plugin may provide tests of its own (pytest's python,
    unittest and doctest; another plugin whose modules define a hook that makes collectors: pytest_collect_file,
    pytest_collect_directory, pytest_pycollect_makemodule, pytest_collection; one that cannot be found). A plugin that
    only changes how pytest's own tests run (schemathesis' or hypothesis') does not: without it those tests fail, they
    do not vanish. `-p NAME` loads one: it may narrow (a pytest_ignore_collect) unless the default run loads it too
    (pytest's builtins, autoloaded entry points)."""
    from _pytest.config import builtin_plugins

    if name.startswith("no:"):
        blocked = name[3:].removeprefix("_pytest.")
        if blocked in builtin_plugins:
            return blocked in _COLLECTING_BUILTINS
        return blocked not in _COLLECTING_NOTHING and _may_collect(blocked)
    if name in builtin_plugins or name in _COLLECTING_NOTHING:
        return False
    if os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD"):
        return True
    return _entry_point_module(name) is None and name not in _autoloaded_modules()


_COLLECTOR_HOOKS = re.compile(r"def (pytest_collect_file|pytest_collect_directory|pytest_pycollect_makemodule|"
                              r"pytest_collection)\b")


def _may_collect(name: str) -> bool:
    """Whether the plugin NAME (an entry point's name or a module) may make collectors: a collector hook defined in
    the folder of its module (its own files, not imported); True when it cannot be found."""
    import importlib.util

    module = _entry_point_module(name) or name
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return True
    if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
        return True
    files = Path(spec.origin).parent.glob("*.py")
    return any(_COLLECTOR_HOOKS.search(file.read_text(errors="replace")) for file in files)


def _entry_point_module(name: str) -> str | None:
    from importlib.metadata import entry_points

    return next((entry.module for entry in entry_points(group="pytest11") if entry.name == name), None)


def _autoloaded_modules() -> set[str]:
    from importlib.metadata import entry_points

    return {entry.module for entry in entry_points(group="pytest11")}


def _found_anyway(config: pytest.Config, given: dict[str, Any], what: str) -> bool:
    """Whether pytest finds the same configuration file (`-c` given) or rootdir (`--rootdir` given) without the
    option, as it determines them (findpaths.determine_setup); False when that cannot be told."""
    from _pytest.config.findpaths import determine_setup

    try:
        rootdir, inifile, *_ = determine_setup(
            inifile=None if what == "inifile" else given.get("inifilename"),
            override_ini=given.get("override_ini"), args=[str(a) for a in given.get("file_or_dir") or []],
            rootdir_cmd_arg=None if what == "rootdir" else (given.get("rootdir") or None),
            invocation_dir=config.invocation_params.dir)
    except Exception:  # noqa: BLE001 - pytest's private helper: any failure means it cannot be told
        return False
    if what == "inifile":
        return inifile is not None and config.inipath is not None and inifile.resolve() == config.inipath.resolve()
    return Path(rootdir).resolve() == config.rootpath.resolve()
