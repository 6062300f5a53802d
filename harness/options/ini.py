"""pytest's ini file as pytest finds and reads it, for the `harness` CLI: the one place options come from besides the
command line, in both front-ends (pytest reads it itself: harness.pytest.options).

Found as pytest run without arguments finds it (`_pytest/config/findpaths.py`, which pytest does not export): from
a folder upwards, in each folder the first of pytest.toml, .pytest.toml (pytest 9 on), pytest.ini, .pytest.ini
(these two count even empty), pyproject.toml with `[tool.pytest]` (pytest 9 on) or `[tool.pytest.ini_options]`,
tox.ini with `[pytest]`, setup.cfg with `[tool:pytest]`; none: the first pyproject.toml on the way, with no values.
Ini files are parsed by iniconfig (pytest's own parser), TOML by tomllib; values are converted as pytest's
`config.getini` converts them for the key's type (ini mode: text; TOML mode: native types, checked).

    ini = IniFile.find(Path.cwd())
    ini.path, ini.base, ini.read(option("topology"))   # Path('/p/pyproject.toml'), Path('/p'), ['t.yaml']

`[tool.pytest-topology]` is not read (the ini is the one place): a pyproject.toml beside the ini file with that
table is an OptionError naming it (`refuse_own_table`).
"""

from __future__ import annotations

import os
import shlex
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from harness.errors import OptionError
from harness.options.table import Option

OWN_TABLE = "tool.pytest-topology"  # a name people may guess; refused, not read (see the module docstring)


@dataclass(frozen=True)
class IniFile:
    """The ini file pytest would use (`path`; None: none found) and its raw values (text or lists of text in ini
    mode; native TOML types in TOML mode, `toml`)."""

    path: Path | None
    values: Mapping[str, Any] = field(default_factory=dict)
    toml: bool = False

    @property
    def base(self) -> Path | None:
        """The folder relative paths in the ini resolve against (the ini file's, as in pytest)."""
        return self.path.parent if self.path is not None else None

    @classmethod
    def find(cls, start: Path) -> IniFile:
        """The ini file pytest run without arguments in `start` would use. Raises OptionError naming the file when
        one cannot be parsed or mixes tables pytest refuses to mix (pytest's words), or when a pyproject.toml beside
        it has `[tool.pytest-topology]`."""
        start = Path(os.path.abspath(start))  # as pytest: absolute, symbolic links kept
        pyproject: Path | None = None
        for folder in (start, *start.parents):
            for name, loader in _loaders().items():
                path = folder / name
                if not path.is_file():
                    continue
                pyproject = pyproject or (path if name == "pyproject.toml" else None)
                found = loader(path)
                if found is not None:
                    refuse_own_table(path)
                    return cls(path, *found)
        if pyproject is not None:
            refuse_own_table(pyproject)
        return cls(pyproject)

    def python_path(self) -> list[Path]:
        """pytest's own `pythonpath` key: the folders pytest puts first on `sys.path` (so that states modules import
        the project's modules alike), relative to the ini file's folder. Raises ValueError for a value pytest
        refuses."""
        value = self.values.get("pythonpath")
        if value is None or self.base is None:
            return []
        if self.toml and not isinstance(value, list):  # in pytest's words
            raise ValueError(f"expects a list for type 'paths', got {type(value).__name__}: {value!r}")
        for index, item in enumerate(value if self.toml else []):
            if not isinstance(item, str):
                raise ValueError(f"expects a list of strings, but item at index {index} is "
                                 f"{type(item).__name__}: {item!r}")
        return [self.base / item for item in (shlex.split(value) if isinstance(value, str) else value)]

    def read(self, option: Option) -> Any:
        """`option`'s ini value as pytest's `config.getini` gives it (its `ini_type`), else its default
        (`ini_default`). Raises ValueError (what was expected, what was found) for a value pytest refuses."""
        assert option.ini is not None
        if option.ini not in self.values:
            return ini_default(option)
        value = self.values[option.ini]
        kind = option.ini_type or "string"
        if self.toml:  # native types, checked, never coerced (in pytest's words)
            expected: type = {"args": list, "linelist": list, "bool": bool, "string": str}[kind]
            if not isinstance(value, expected):
                what = {list: f"a list for type '{kind}'", bool: "a bool", str: "a string"}[expected]
                raise ValueError(f"expects {what}, got {type(value).__name__}: {value!r}")
            if not isinstance(value, list):
                return value
            for index, item in enumerate(value):
                if not isinstance(item, str):
                    raise ValueError(f"expects a list of strings, but item at index {index} is "
                                     f"{type(item).__name__}: {item!r}")
            return list(value)
        if kind == "args":
            return shlex.split(value) if isinstance(value, str) else value
        if kind == "linelist":
            return [line.strip() for line in value.split("\n") if line.strip()] if isinstance(value, str) else value
        if kind == "bool":
            return _truth(str(value).strip())
        return value


def ini_default(option: Option) -> Any:
    """The value of an ini key that is not set, as both front-ends register it (pytest's addini default)."""
    return [] if option.ini_type in ("linelist", "args") else False if option.ini_type == "bool" else None


def refuse_own_table(ini_file: Path | None) -> None:
    """OptionError when the pyproject.toml that is, or lies beside, `ini_file` has a `[tool.pytest-topology]` table:
    its keys would be read by nothing (the pytest ini is the one place, read by pytest and `harness` alike)."""
    if ini_file is None:
        return
    pyproject = ini_file if ini_file.name == "pyproject.toml" else ini_file.parent / "pyproject.toml"
    if not pyproject.is_file():
        return
    try:
        document = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return  # not the ini file: pytest does not read it either, and says nothing
    tool = document.get("tool")
    if isinstance(tool, dict) and "pytest-topology" in tool:
        keys = ", ".join(sorted(tool["pytest-topology"])) if isinstance(tool["pytest-topology"], dict) else ""
        native = isinstance(tool.get("pytest"), dict) and set(tool["pytest"]) - {"ini_options"}
        where = (f"its [tool.pytest{'' if native else '.ini_options'}]" if ini_file == pyproject
                 else f"{ini_file} (the ini file pytest reads here)")
        raise OptionError(f"{pyproject}: [{OWN_TABLE}] is not read: pytest-topology's settings are pytest ini keys, "
                          f"read by pytest and harness alike; move {keys or 'its keys'} to {where}")


def _truth(text: str) -> bool:
    """An ini truth value, as pytest reads one (its words: `invalid truth value 'maybe'`)."""
    if text.lower() in ("y", "yes", "t", "true", "on", "1"):
        return True
    if text.lower() in ("n", "no", "f", "false", "off", "0"):
        return False
    raise ValueError(f"invalid truth value {text.lower()!r}")


# --- the files, in pytest's order of preference in one folder -------------------------------------------------------
Found = tuple[Mapping[str, Any], bool] | None  # (values, TOML mode), or None: the file holds no pytest configuration


@cache
def _loaders() -> dict[str, Callable[[Path], Found]]:
    toml = _pytest_major() >= 9  # pytest.toml and native [tool.pytest] came with pytest 9
    return {**({"pytest.toml": _pytest_toml, ".pytest.toml": _pytest_toml} if toml else {}),
            "pytest.ini": _pytest_ini, ".pytest.ini": _pytest_ini, "pyproject.toml": _pyproject,
            "tox.ini": _tox_ini, "setup.cfg": _setup_cfg}


def _pytest_major() -> int:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return int(version("pytest").split(".")[0])
    except (PackageNotFoundError, ValueError):
        return 9


def _toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise OptionError(f"{path}: {error}") from None


def _sections(path: Path) -> Mapping[str, Mapping[str, str]]:
    import iniconfig

    try:
        parsed = iniconfig.IniConfig(str(path))
    except (OSError, UnicodeDecodeError, iniconfig.ParseError) as error:
        raise OptionError(str(error) if isinstance(error, iniconfig.ParseError) else f"{path}: {error}") from None
    return {section.name: dict(section.items()) for section in parsed}


def _pytest_toml(path: Path) -> Found:
    document = _toml(path)
    if "pytest" not in document:
        loose = [key for key, value in document.items() if not isinstance(value, dict)]
        if loose:
            raise OptionError(f"{path}: pytest configuration must be under a [pytest] table (found top-level "
                              f"options: {', '.join(loose)})")
    return dict(document.get("pytest", {})), True


def _pytest_ini(path: Path) -> Found:
    return dict(_sections(path).get("pytest", {})), False


def _pyproject(path: Path) -> Found:
    document = _toml(path)
    tool = document.get("tool", {})
    pytest_tables = tool.get("pytest", {}) if isinstance(tool, dict) else {}
    ini = pytest_tables.get("ini_options")
    native = {key: value for key, value in pytest_tables.items() if key != "ini_options"}
    if _pytest_major() < 9:
        native = {}
    if native and ini is not None:
        raise OptionError(f"{path}: Cannot use both [tool.pytest] (native TOML types) and [tool.pytest.ini_options] "
                          "(string-based INI format) simultaneously (pytest refuses it too)")
    if native:
        return native, True
    if ini is None:
        return None
    return {key: value if isinstance(value, list) else str(value) for key, value in ini.items()}, False


def _tox_ini(path: Path) -> Found:
    sections = _sections(path)
    return (dict(sections["pytest"]), False) if "pytest" in sections else None


def _setup_cfg(path: Path) -> Found:
    sections = _sections(path)
    if "tool:pytest" in sections:
        return dict(sections["tool:pytest"]), False
    if "pytest" in sections:
        raise OptionError(f"{path}: [pytest] section in setup.cfg files is no longer supported, change to "
                          "[tool:pytest] instead (pytest's words: pytest stops on it too)")
    return None
