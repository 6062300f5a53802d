"""One table of options (harness.options) for both front-ends: the same name (by the one rule), default and
validation in `harness` and in pytest, every option in both helps, one line per invalid value, and one convention for
the topology file on every command (the older forms read the same, with a note)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from harness.cli import main
from harness.cli.parser import build_parser, parse
from harness.errors import OptionError
from harness.options import CLI, COMMANDS, OPTIONS, PYTEST, option, options, resolve
from harness.options.table import PREFIXES

BOTH = [o for o in OPTIONS if o.cli and o.pytest]
INVALID = {"fuzz_workers": ("0", "a whole number of at least 1, not '0'"),
           "fuzz_max_examples": ("-3", "a whole number of at least 1, not '-3'"),
           "fuzz_seed": ("x", "a whole number, not 'x'"),
           "fuzz_mode": ("valid", "one of positive, negative, all, not 'valid'"),
           "annotations": ("gitlab", "one of auto, github, off, not 'gitlab'")}


def test_every_option_has_one_name_in_both_front_ends_by_the_stated_rule() -> None:
    assert {o.name for o in BOTH} >= {"topology", "fuzz_seed", "fuzz_workers", "pacts", "topology_report"}
    for each in BOTH:
        cli, pytest_flag = each.cli[0], each.pytest
        assert pytest_flag in (cli, PREFIXES.get(each.feature, "--") + cli.removeprefix("--")), each.name
    assert option("fuzz_seed").flag(CLI) == "--seed" and option("fuzz_seed").flag(PYTEST) == "--fuzz-seed"
    assert len({o.name for o in OPTIONS}) == len(OPTIONS)


def test_every_option_has_the_same_default_in_both_front_ends() -> None:
    cli = {name: value for command in ("fuzz", "verify", "drift", "up", "publish")
           for name, value in resolve(CLI, {}, command=command).values.items()}
    in_pytest = resolve(PYTEST, {}).values
    for each in BOTH:
        assert cli[each.name] == in_pytest[each.name] == ([] if each.repeatable else each.default), each.name


@pytest.mark.parametrize("name", sorted(INVALID))
def test_an_invalid_value_is_one_line_naming_the_flag_in_each_front_end(name: str, capsys: pytest.CaptureFixture[str],
                                                                       pytester: pytest.Pytester) -> None:
    text, expected = INVALID[name]
    each = option(name)
    assert main(["fuzz", "--topology", "t.yaml", each.flag(CLI), text]) == 2
    assert capsys.readouterr().err == f"error: {each.flag(CLI)}: {expected}\n"
    pytester.makepyfile("def test_nothing(): pass")
    result = pytester.runpytest_subprocess(f"{each.flag(PYTEST)}={text}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert result.stderr.lines[0] == f"ERROR: {each.flag(PYTEST)}: {expected}"  # the same words, pytest's flag
    assert [line for line in result.stderr.lines if line.strip()] == result.stderr.lines[:1]


def test_every_invalid_value_is_said_at_once() -> None:
    with pytest.raises(OptionError) as error:
        resolve(CLI, {"fuzz_workers": "0", "fuzz_seed": "x", "topology": ["t.yaml"]}, command="fuzz")
    assert str(error.value) == "--seed: a whole number, not 'x'; --workers: a whole number of at least 1, not '0'"


def test_an_invalid_ini_value_is_named_by_its_key() -> None:
    ini = {"topology_env_file": "", "topology": [], "topology_profiles": [], "image_substitutes": [],
           "topology_reuse": False, "topology_per_worker": False, "pact_dir": "", "topology_report": "",
           "topology_annotations": "", "topology_observe": False, "topology_observe_fail_under": "",
           "topology_observe_strict": False, "topology_swarm": ""}
    values = resolve(PYTEST, {}, ini=lambda o: ini[o.ini], ini_base=Path("/project")).values
    assert values["pact_dir"] == Path("/project/contracts")  # the default, relative to the ini file
    ini["topology"] = ["a.yml", "b.yml"]
    ini["topology_profiles"] = ["debug"]
    given = resolve(PYTEST, {"topology_profile": ["extra"]}, ini=lambda o: ini[o.ini], ini_base=Path("/project"))
    assert given.topology.files == (Path("/project/a.yml"), Path("/project/b.yml"))
    assert given.topology.profiles == ("debug", "extra")  # merged: the ini's, then the command line's


def test_both_helps_come_from_the_table(pytester: pytest.Pytester) -> None:
    helps = {command: action.choices[command].format_help() for action in build_parser()._subparsers._actions
             if action.choices for command in action.choices}
    for each in options(CLI):
        for command in each.commands:
            assert re.search(rf"{re.escape(each.cli[0] if each.cli[0].startswith('-') else each.metavar)}(?![\w-])",
                             helps[command]), (each.name, command)
            assert " ".join(each.help.split()[:4]) in " ".join(helps[command].split()), (each.name, command)
    result = pytester.runpytest_subprocess("--help")
    shown = " ".join(result.stdout.str().split())
    for each in options(PYTEST):
        assert f"{each.pytest}" in shown and " ".join(each.help.split()[:4]) in shown, each.name
        if each.ini:
            assert re.search(rf"\b{each.ini} \(", shown), each.ini  # in pytest's list of ini keys


def test_the_topology_file_is_an_option_on_every_command_that_reads_one(capsys: pytest.CaptureFixture[str],
                                                                        tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no pytest ini file from here upwards
    for command in ("up", "down", "logs", "graph", "fault", "verify", "fuzz", "drift"):
        assert "--topology FILE, -f FILE" in build_parser()._subparsers._actions[1].choices[command].format_help()
    assert "The topology file: --topology FILE (or -f FILE) on every command" in build_parser().format_help()
    notes: list[str] = []
    _, logs = parse(["logs", "t.yaml", "api"], notes.append)  # it was `unrecognized arguments`
    assert (logs.topology.files, logs.service) == ((Path("t.yaml"),), "api")
    assert notes == ["note: the topology file is an option on every command: harness logs --topology t.yaml api (a "
                     "bare file is read the same)"]
    for command in ("up", "graph", "verify", "fuzz", "drift", "fault"):
        assert main([command]) == 2
        assert capsys.readouterr().err == (f"error: harness {command}: name the topology file: harness {command} "
                                           "--topology FILE (or set the ini key `topology` in pytest's ini file: "
                                           "[tool.pytest.ini_options] of pyproject.toml, or pytest.ini)\n")
    assert main(["up", "a.yml", "--topology", "b.yml"]) == 2
    assert capsys.readouterr().err == ("error: harness up: the topology file is given twice (a.yml and --topology): "
                                       "give each one as --topology FILE\n")
    with pytest.raises(SystemExit) as exit:
        main(["fuzz", "--topology", "t.yaml", "--bogus"])
    assert exit.value.code == 2
    assert capsys.readouterr().err == ("harness: error: unrecognized arguments: --bogus (`harness --help` lists the "
                                       "options)\n")


def test_a_rerun_hint_is_asked_of_the_model() -> None:
    from harness.fuzz.results import ServiceResult
    from harness.report.fuzz import Rerun

    result = ServiceResult("orders", "http://127.0.0.1:1", 7, fuzzed_before=["catalog"],
                           given={"mode": "negative", "workers": "2"})
    command = ["harness", "fuzz", "--topology", "t.yaml"]
    assert Rerun(command, resolve(CLI, {}, command="fuzz").flags("fuzz")).for_result(result) == (
        "harness fuzz --topology t.yaml --seed 7 --service catalog --service orders --mode negative --workers 2")
    assert Rerun(["pytest", "--fuzz"], resolve(PYTEST, {}).flags("fuzz")).for_result(result) == (
        "pytest --fuzz --fuzz-seed 7 --fuzz-service catalog --fuzz-service orders --fuzz-mode negative "
        "--fuzz-workers 2")


def test_every_command_of_the_table_runs_a_function_of_the_cli() -> None:
    from harness.cli import commands

    assert list(commands()) == list(COMMANDS)  # and in the order `harness --help` lists them
