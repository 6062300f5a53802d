"""pytest's ini file for the `harness` CLI (harness.options.ini): found and read as pytest itself finds and reads it,
checked against pytest on the same folders (`pytester.parseconfig()`: the file it picks, `config.getini` of every
key of the table); the files pytest refuses are refused in its words, naming the file."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from harness.errors import OptionError
from harness.options import OPTIONS
from harness.options.ini import IniFile

INI_KEYED = [o for o in OPTIONS if o.ini]
NATIVE_TOML = pytest.version_tuple >= (9,)  # pytest.toml and [tool.pytest] came with pytest 9 (the floor is 8.4)
needs_native_toml = pytest.mark.skipif(not NATIVE_TOML, reason="pytest 9's native TOML configuration")
PYPROJECT_NO_PYTEST = "[project]\nname = 'shop'\n"

# folder layouts (file -> text), the folder pytest is run in, and the file it picks
LAYOUTS = {
    "pytest.ini first, over pyproject.toml": (
        {"pytest.ini": "[pytest]\ntopology = a.yaml\n",
         "pyproject.toml": "[tool.pytest.ini_options]\ntopology = 'b.yaml'\n"}, ".", "pytest.ini"),
    "pytest.ini counts with no [pytest] section": (
        {"pytest.ini": "[other]\nx = 1\n", "pyproject.toml": "[tool.pytest.ini_options]\ntopology = 'b.yaml'\n"},
        ".", "pytest.ini"),
    ".pytest.ini": ({".pytest.ini": "[pytest]\ntopology_reuse = yes\n"}, ".", ".pytest.ini"),
    "pyproject.toml without pytest's table is passed over": (
        {"pyproject.toml": PYPROJECT_NO_PYTEST, "tox.ini": "[pytest]\ntopology = c.yaml\ntopology_profiles = a 'b c'\n"},
        ".", "tox.ini"),
    "tox.ini without [pytest] is passed over": (
        {"tox.ini": "[tox]\nenvlist = py311\n",
         "setup.cfg": "[tool:pytest]\ntopology =\n    a.yaml\n    b.yaml\ntopology_per_worker = false\n"},
        ".", "setup.cfg"),
    "upwards, past a folder whose files hold no pytest configuration": (
        {"sub/deeper/pyproject.toml": PYPROJECT_NO_PYTEST, "sub/deeper/tox.ini": "[tox]\n",
         "pyproject.toml": "[tool.pytest.ini_options]\ntopology = ['x.yaml', 'y.yaml']\ntopology_reuse = true\n"
                           "topology_env_file = 'env/ci.env'\nimage_substitutes = ['redis:7=my-redis:7']\n"},
        "sub/deeper", "pyproject.toml"),
    "none: the first pyproject.toml on the way, with no values": (
        {"sub/pyproject.toml": PYPROJECT_NO_PYTEST, "tox.ini": "[tox]\n"}, "sub", "sub/pyproject.toml"),
    "pytest.toml (native TOML)": (
        {"pytest.toml": "[pytest]\ntopology = ['a.yaml']\ntopology_reuse = true\ntopology_profiles = ['p']\n",
         "pytest.ini": "[pytest]\ntopology = b.yaml\n"}, ".", "pytest.toml"),
    "[tool.pytest] of pyproject.toml (native TOML)": (
        {"pyproject.toml": "[tool.pytest]\ntopology = ['a.yaml']\ntopology_annotations = 'off'\n"
                           "topology_per_worker = false\n"}, ".", "pyproject.toml"),
    "no file at all": ({"sub/nothing.txt": ""}, "sub", None),
}


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_the_ini_file_and_its_values_are_those_pytest_finds(layout: str, pytester: pytest.Pytester,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    files, start, expected = LAYOUTS[layout]
    if "native TOML" in layout and not NATIVE_TOML:
        pytest.skip("pytest 9's native TOML configuration")
    _write(pytester.path, files)
    monkeypatch.chdir(pytester.path / start)
    ini = IniFile.find(Path.cwd())
    config = pytester.parseconfig()  # pytest itself, run without arguments in the same folder
    assert ini.path == config.inipath == (pytester.path / expected if expected else None)
    for option in INI_KEYED:
        assert ini.read(option) == config.getini(str(option.ini)), option.ini
    assert ini.base == (config.inipath.parent if config.inipath else None)


def test_ini_values_are_converted_as_pytest_converts_them_for_their_type(tmp_path: Path) -> None:
    _write(tmp_path, {"tox.ini": "[pytest]\ntopology =\n  a.yaml\n\n  b.yaml\ntopology_profiles = x 'y z'\n"
                                 "topology_reuse = On\ntopology_report = r.html\n"})
    ini = IniFile.find(tmp_path)
    read = {o.ini: ini.read(o) for o in INI_KEYED}
    assert read["topology"] == ["a.yaml", "b.yaml"] and read["topology_profiles"] == ["x", "y z"]
    assert read["topology_reuse"] is True and read["topology_report"] == "r.html"
    assert read["topology_per_worker"] is False and read["image_substitutes"] == [] and read["pact_dir"] is None


def test_a_value_pytest_refuses_is_refused_in_its_words(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\ntopology_reuse = Maybe\n")
    option = next(o for o in INI_KEYED if o.ini == "topology_reuse")
    with pytest.raises(ValueError) as ours:
        IniFile.find(pytester.path).read(option)
    with pytest.raises((pytest.UsageError, ValueError)) as pytests:  # pytest < 9 raises the ValueError itself
        pytester.parseconfig().getini("topology_reuse")
    assert str(ours.value) == str(pytests.value) == "invalid truth value 'maybe'"


@needs_native_toml
@pytest.mark.parametrize(("text", "key", "expected"), [
    ("topology = 'a.yaml'", "topology", "expects a list for type 'linelist', got str: 'a.yaml'"),
    ("topology_profiles = [1]", "topology_profiles", "expects a list of strings, but item at index 0 is int: 1"),
    ("topology_reuse = 'yes'", "topology_reuse", "expects a bool, got str: 'yes'"),
    ("topology_report = 3", "topology_report", "expects a string, got int: 3"),
])
def test_a_native_toml_value_of_the_wrong_type_is_refused_as_pytest_refuses_it(
        text: str, key: str, expected: str, pytester: pytest.Pytester) -> None:
    pytester.makefile(".toml", pytest=f"[pytest]\n{text}\n")
    option = next(o for o in INI_KEYED if o.ini == key)
    with pytest.raises(ValueError) as ours:
        IniFile.find(pytester.path).read(option)
    with pytest.raises(pytest.UsageError) as pytests:
        pytester.parseconfig().getini(key)
    assert str(ours.value) == expected
    assert str(pytests.value) == f"{pytester.path / 'pytest.toml'}: config option '{key}' {expected}"


@pytest.mark.parametrize(("files", "expected"), [
    ({"setup.cfg": "[pytest]\ntopology = a.yaml\n"},
     "{root}/setup.cfg: [pytest] section in setup.cfg files is no longer supported, change to [tool:pytest] "
     "instead (pytest's words: pytest stops on it too)"),
    pytest.param({"pyproject.toml": "[tool.pytest]\ntopology = ['a']\n[tool.pytest.ini_options]\ntopology = 'b'\n"},
     "{root}/pyproject.toml: Cannot use both [tool.pytest] (native TOML types) and [tool.pytest.ini_options] "
     "(string-based INI format) simultaneously (pytest refuses it too)", marks=needs_native_toml),
    ({"pyproject.toml": "[tool.pytest.ini_options\n"},
     "{root}/pyproject.toml: Expected ']' at the end of a table declaration (at line 1, column 25)"),
    pytest.param({"pytest.toml": "topology = ['a']\n"}, "{root}/pytest.toml: pytest configuration must be under a "
                 "[pytest] table (found top-level options: topology)", marks=needs_native_toml),
    ({"pytest.ini": "[pytest\n"}, "{root}/pytest.ini:1: unexpected value continuation"),
])
def test_a_file_pytest_refuses_is_one_error_naming_it(tmp_path: Path, files: dict[str, str], expected: str) -> None:
    _write(tmp_path, files)
    with pytest.raises(OptionError) as error:
        IniFile.find(tmp_path)
    assert str(error.value) == expected.format(root=tmp_path)


@pytest.mark.parametrize(("files", "expected"), [
    ({"pyproject.toml": "[tool.pytest-topology]\ntopology = 't.yaml'\nfuzz_seed = 1\n"},
     "{root}/pyproject.toml: [tool.pytest-topology] is not read: pytest-topology's settings are pytest ini keys, "
     "read by pytest and harness alike; move fuzz_seed, topology to its [tool.pytest.ini_options]"),
    ({"pyproject.toml": "[tool.pytest-topology]\ntopology = 't.yaml'\n[tool.pytest]\naddopts = ['-q']\n"},
     "{root}/pyproject.toml: [tool.pytest-topology] is not read: pytest-topology's settings are pytest ini keys, "
     "read by pytest and harness alike; move topology to its [tool.pytest]"),
    ({"pyproject.toml": "[tool.pytest-topology]\ntopology = 't.yaml'\n", "pytest.ini": "[pytest]\n"},
     "{root}/pyproject.toml: [tool.pytest-topology] is not read: pytest-topology's settings are pytest ini keys, "
     "read by pytest and harness alike; move topology to {root}/pytest.ini (the ini file pytest reads here)"),
])
def test_a_tool_pytest_topology_table_is_refused_not_read(tmp_path: Path, files: dict[str, str],
                                                          expected: str) -> None:
    _write(tmp_path, files)
    with pytest.raises(OptionError) as error:
        IniFile.find(tmp_path)
    assert str(error.value) == expected.format(root=tmp_path)


@pytest.mark.parametrize("files", [
    {"pyproject.toml": "[tool.pytest.ini_options]\npythonpath = ['.', 'src']\ntopology = ['t.yaml']\n"},
    {"tox.ini": "[pytest]\npythonpath = . src\ntopology = t.yaml\n"},
], ids=["pyproject.toml", "tox.ini"])
def test_the_ini_pythonpath_is_first_on_sys_path_as_under_pytest(files: dict[str, str], pytester: pytest.Pytester,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A states module that imports a module of the project (`pythonpath = ["."]`) loads under `harness verify` as
    under pytest."""
    from harness.cli.parser import parse

    _write(pytester.path, {**files, "t.yaml": "services:\n  a:\n    image: redis:7\n"})
    monkeypatch.chdir(pytester.path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    expected = [str(path) for path in pytester.parseconfig().getini("pythonpath")]
    assert expected == [str(pytester.path / "."), str(pytester.path / "src")]
    parse(["graph"], say=lambda text: None)
    assert sys.path[:2] == expected


def test_an_ini_pythonpath_pytest_refuses_is_one_error_naming_the_file(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.cli.parser import parse

    if not NATIVE_TOML:
        pytest.skip("pytest 9's native TOML configuration")
    _write(tmp_path, {"pytest.toml": "[pytest]\npythonpath = 'src'\ntopology = ['t.yaml']\n",
                      "t.yaml": "services:\n  a:\n    image: redis:7\n"})
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    with pytest.raises(OptionError) as error:
        parse(["graph"], say=lambda text: None)
    assert str(error.value) == f"{tmp_path / 'pytest.toml'}: ini pythonpath: expects a list for type 'paths', " \
                               "got str: 'src'"
