"""Options from pytest's ini file in both front-ends: the same ini gives the same resolved options to `pytest` and to
`harness` (which finds the file as pytest does, from the current folder upwards), the command line wins, paths are
relative to the ini file, and an invalid ini value, a missing file named by the ini or a topology named nowhere is
one error saying where it came from, in the same words in both."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from harness.cli.parser import parse
from harness.errors import OptionError
from harness.options import OPTIONS
from harness.pytest.options import resolved

HARNESS = str(Path(sys.executable).parent / "harness")
TOPOLOGY = "name: shop\nservices:\n  db:\n    image: postgres:15\n  api:\n    image: python:3.11-slim\n" \
           "    depends_on: [db]\n"
INI = """[tool.pytest.ini_options]
topology = ["topology.yaml"]
topology_profiles = "debug 'with space'"
topology_env_file = "env/ci.env"
image_substitutes = ["redis:7=my-redis:7"]
topology_report = "reports/run.html"
topology_annotations = "off"
topology_observe = true
topology_observe_fail_under = "80"
topology_observe_strict = true
topology_swarm = "join"
"""
# the options of both front-ends that the ini sets, and the commands that take each
SHARED = {o.name: o.commands for o in OPTIONS if o.ini and o.cli and o.pytest}


@pytest.fixture
def project(pytester: pytest.Pytester) -> Path:
    """A project with its pytest settings in pyproject.toml and a topology file; the tests run in its `tests/unit`
    (pytest and harness look upwards from there)."""
    (pytester.path / "pyproject.toml").write_text(INI)
    (pytester.path / "topology.yaml").write_text(TOPOLOGY)
    (pytester.path / "tests" / "unit").mkdir(parents=True)
    return pytester.path


def test_the_same_ini_gives_the_same_options_to_pytest_and_harness(project: Path, pytester: pytest.Pytester,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    assert set(SHARED) == {"topology", "topology_profile", "topology_env_file", "image_substitute", "topology_swarm",
                           "topology_report", "annotations", "observe", "observe_fail_under", "observe_strict"}
    monkeypatch.chdir(project / "tests" / "unit")
    in_pytest = resolved(pytester.parseconfig())
    for command in ("up", "down", "logs", "graph", "fault", "verify", "fuzz", "drift"):
        _, cli = parse([command, *(["api"] if command == "logs" else [])], lambda text: None)
        assert cli is not None
        for name in (name for name, commands in SHARED.items() if command in commands):
            assert cli[name] == in_pytest[name], (command, name)
        assert cli.topology == in_pytest.topology, command  # files, profiles, env file, substitutes, the ini file
    assert in_pytest.topology.files == (project / "topology.yaml",)  # relative to the ini file, not the folder
    assert in_pytest.topology.profiles == ("debug", "with space")
    assert in_pytest.topology.env_file == project / "env" / "ci.env"
    assert in_pytest.topology.ini_image_substitutes == ("redis:7=my-redis:7",)
    assert in_pytest.topology.ini_file == project / "pyproject.toml"
    assert in_pytest.topology.swarm == "join"  # its spec carries it to the engines (runtime/swarm.py)
    assert (in_pytest.topology_report, in_pytest.annotations) == (project / "reports" / "run.html", "off")
    assert in_pytest.observe is True  # and `harness up` reads it too (the loop above)
    assert (in_pytest.observe_fail_under, in_pytest.observe_strict) == (80.0, True)


def test_the_command_line_wins_over_the_ini_and_merged_lists_add_to_it(project: Path, pytester: pytest.Pytester,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(project / "tests" / "unit")
    words = ["--topology", "other.yaml", "--topology-profile", "extra", "--image-substitute", "a=b"]
    _, cli = parse(["fuzz", *words, "--annotations", "github", "--report", "mine.html"], lambda text: None)
    in_pytest = resolved(pytester.parseconfig(*words, "--topology-annotations", "github", "--topology-report",
                                              "mine.html"))
    assert cli is not None
    for each in (cli, in_pytest):
        assert each.topology.files == (Path("other.yaml"),)  # as given: relative to the current folder
        assert each.topology.ini_file is None  # the files came from the command line
        assert each.topology.profiles == ("debug", "with space", "extra")
        assert (each.topology.image_substitutes, each.topology.ini_image_substitutes) == (("a=b",),
                                                                                         ("redis:7=my-redis:7",))
        assert (each.annotations, each.topology_report) == ("github", Path("mine.html"))


def test_harness_reads_the_ini_topology_on_every_command_that_reads_one(project: Path) -> None:
    folder = project / "tests" / "unit"
    from_ini = subprocess.run([HARNESS, "graph", "--format", "text"], cwd=folder, capture_output=True, text=True,
                              timeout=120)
    given = subprocess.run([HARNESS, "graph", "--format", "text", "--topology", "../../topology.yaml"], cwd=folder,
                           capture_output=True, text=True, timeout=120)
    assert (from_ini.returncode, from_ini.stderr) == (0, "note: image substitute 'redis:7=my-redis:7' "
                                                         "replaces no image of topology shop: no `image:` and no FROM "
                                                         "line of its builds names it\n")
    assert from_ini.stdout == given.stdout and "api" in from_ini.stdout and "db" in from_ini.stdout


def test_a_fault_with_the_ini_topology_takes_its_bare_words_as_the_edge(project: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(project)
    notes: list[str] = []
    _, options = parse(["fault", "api", "db", "--delay", "100"], notes.append)
    assert options is not None and (options.edge, options.topology.files) == (["api", "db"],
                                                                              (project / "topology.yaml",))
    _, options = parse(["fault", "topology.yaml", "api", "--delay", "100"], notes.append)  # the older form still
    assert options is not None and (options.edge, options.topology.files) == (["api"], (Path("topology.yaml"),))
    assert notes == ["note: the topology file is an option on every command: harness fault --topology "
                     "topology.yaml api (a bare file is read the same)"]


def test_an_invalid_ini_value_is_the_same_error_in_both_front_ends(project: Path, pytester: pytest.Pytester) -> None:
    (project / "pyproject.toml").write_text(INI.replace('"off"', '"gitlab"'))
    expected = f"{project / 'pyproject.toml'}: ini topology_annotations: one of auto, github, off, not 'gitlab'"
    harness = subprocess.run([HARNESS, "fuzz"], cwd=project, capture_output=True, text=True, timeout=120)
    assert (harness.returncode, harness.stderr) == (2, f"error: {expected}\n")
    result = pytester.runpytest_subprocess()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert [line for line in result.stderr.lines if line.strip()] == [f"ERROR: {expected}"]


@pytest.mark.skipif(pytest.version_tuple < (9,), reason="pytest 9's native TOML configuration")
def test_a_native_toml_value_of_the_wrong_type_is_the_same_error_in_both_front_ends(
        project: Path, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    (project / "pyproject.toml").write_text("[tool.pytest]\ntopology = 'topology.yaml'\n")
    monkeypatch.chdir(project)
    expected = (f"{project / 'pyproject.toml'}: ini topology: expects a list for type 'linelist', got str: "
                "'topology.yaml'")
    with pytest.raises(OptionError, match=f"^{expected}$"):
        parse(["graph"], lambda text: None)
    with pytest.raises(pytest.UsageError, match=f"^{expected}$"):
        resolved(pytester.parseconfig())


def test_a_missing_file_named_by_the_ini_says_it_came_from_the_ini(project: Path, pytester: pytest.Pytester) -> None:
    (project / "pyproject.toml").write_text('[tool.pytest.ini_options]\ntopology = "missing.yaml"\n')
    expected = (f"{project / 'missing.yaml'}: no such file or folder: the ini key `topology` in "
                f"{project / 'pyproject.toml'} names it (relative to that file's folder); correct the key, or give "
                "the file with --topology FILE")
    harness = subprocess.run([HARNESS, "graph"], cwd=project / "tests", capture_output=True, text=True, timeout=120)
    assert (harness.returncode, harness.stderr) == (2, f"error: {expected}\n")
    pytester.makepyfile(test_nothing="def test_nothing(): pass")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    assert result.ret != pytest.ExitCode.OK
    assert f"ERROR: {expected}" in result.stderr.lines
    given = subprocess.run([HARNESS, "graph", "--topology", "missing.yaml"], cwd=project, capture_output=True,
                           text=True, timeout=120)  # given on the command line: said as before
    assert given.stderr == f"error: {project / 'missing.yaml'}: cannot read the topology file: No such file or " \
                           "directory\n"


def test_a_topology_named_nowhere_says_where_to_name_it(project: Path) -> None:
    (project / "pyproject.toml").write_text("[tool.pytest.ini_options]\naddopts = '-q'\n")
    harness = subprocess.run([HARNESS, "verify"], cwd=project, capture_output=True, text=True, timeout=120)
    assert (harness.returncode, harness.stderr) == (2, "error: harness verify: name the topology file: harness "
                                                       "verify --topology FILE (or set the ini key `topology` in "
                                                       f"{project / 'pyproject.toml'})\n")


def test_the_help_names_each_options_ini_key() -> None:
    from harness.cli.parser import build_parser

    fuzz = build_parser()._subparsers._actions[1].choices["fuzz"].format_help()  # type: ignore[union-attr]
    text = " ".join(fuzz.split())
    for each in (o for o in OPTIONS if o.ini and "fuzz" in o.commands and o.cli):
        assert f"ini key: {each.ini}" in text, each.name
    assert "read from pytest's ini file too" in text


def test_an_unusable_output_path_from_the_ini_names_the_ini_in_both_front_ends(project: Path,
                                                                               pytester: pytest.Pytester) -> None:
    (project / "pyproject.toml").write_text('[tool.pytest.ini_options]\ntopology = "topology.yaml"\n'
                                            'topology_report = "out.html"\n')
    (project / "out.html").mkdir()
    expected = (f"{project / 'pyproject.toml'}: ini topology_report {project / 'out.html'}: that is a folder; give a "
                f"file name, e.g. {project / 'out.html' / 'report.html'}")
    harness = subprocess.run([HARNESS, "drift"], cwd=project, capture_output=True, text=True, timeout=120)
    assert (harness.returncode, harness.stderr) == (2, f"error: {expected}\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert [line for line in result.stderr.lines if line.strip()] == [f"ERROR: {expected}"]
