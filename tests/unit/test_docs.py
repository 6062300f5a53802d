"""The docs' code blocks are run, and the generated reference covers the code.

Every fenced block of docs/**/*.md and README.md has a marker comment on the line before it, saying what is done
with it (a block without one fails):

    <!-- doc-test: run -->                   python: executed in a fresh namespace, in an empty folder
                                             yaml: a topology file, loaded by harness.load_topology (the name
                                               `file: compose.yaml` makes it a compose file; `files: a/, b.json`
                                               makes these beside it first, empty: a folder ends in '/');
                                               `github-workflow`: a GitHub Actions workflow, whose `run:` steps'
                                               harness, pytest and make lines are checked as a bash block's
                                             bash: each `harness ...` line parsed by harness's parser, each
                                               `pytest ...` line's options looked up in `pytest --help`, each
                                               `make X` target looked up in the Makefile
                                             ini / toml: parsed
    <!-- doc-test: flags -->                 bash synopsis ([optional] parts, A|B): every option of each
                                             `harness COMMAND` / `pytest` line exists there
                                             python with `topology: FILE` (a file of this repository): its tests
                                               also pass under `pytest --topology FILE` (tests/integration/test_docs.py)
    <!-- doc-test: docker -->                python that needs the engine: run by tests/integration/test_docs.py
    <!-- doc-test: skip REASON -->           not run, for the reason written
"""

from __future__ import annotations

import configparser
import re
import shlex
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

import harness
from harness.cli.parser import build_parser

ROOT = Path(__file__).resolve().parents[2]
FENCE = re.compile(r"^(?P<indent> *)```(?P<lang>[\w-]*)[^\n]*\n(?P<body>.*?)^(?P=indent)```$", re.DOTALL | re.MULTILINE)
MARK = re.compile(r"<!-- doc-test: (?P<kind>run|flags|docker|skip)(?P<rest>[^>]*)-->\s*$")


@dataclass(frozen=True)
class Block:
    page: str
    line: int
    lang: str
    body: str
    kind: str  # run, flags, docker, skip; "" when unmarked
    rest: str  # what follows the kind in the marker

    def __str__(self) -> str:
        return f"{self.page}:{self.line}"

    def option(self, name: str) -> str | None:
        """`name: value` from the marker (`file: compose.yaml`, `files: a/, b.json`)."""
        match = re.search(rf"\b{name}: ([^;]+)", self.rest)
        return match[1].strip() if match else None


def pages() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def blocks() -> list[Block]:
    found = []
    for page in pages():
        text = page.read_text()
        for fence in FENCE.finditer(text):
            line = text.count("\n", 0, fence.start()) + 1
            before = text[: fence.start()].rstrip("\n").rsplit("\n", 1)[-1]
            mark = MARK.search(before)
            body = "\n".join(row[len(fence["indent"]):] for row in fence["body"].splitlines())
            found.append(Block(str(page.relative_to(ROOT)), line, fence["lang"], body,
                               mark["kind"] if mark else "", mark["rest"].strip() if mark else ""))
    return found


ALL = blocks()


def of(kind: str, *langs: str) -> list[Block]:
    return [b for b in ALL if b.kind == kind and (not langs or b.lang in langs)]


def test_every_block_says_whether_it_is_run_and_has_a_language():
    unmarked = [f"{b} ({b.lang or 'no language'})" for b in ALL if not b.kind]
    assert not unmarked, "blocks without a <!-- doc-test: ... --> marker: " + ", ".join(unmarked)
    assert not [str(b) for b in ALL if not b.lang], "blocks without a language"
    assert not [str(b) for b in of("skip") if len(b.rest) < 10], "a skipped block needs its reason written"
    assert not [str(b) for b in of("docker") if b.lang != "python"], "only python blocks can be docker blocks"


@pytest.mark.parametrize("block", of("run", "python"), ids=str)
def test_python_blocks_run(block, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    exec(compile(block.body, str(block), "exec"), {"__name__": "docs_block", "__file__": str(tmp_path / "conftest.py")})


@pytest.mark.parametrize("block", [b for b in of("run", "yaml") if "github-workflow" in b.rest], ids=str)
def test_workflow_blocks_run_commands_that_exist(block, pytest_flags):
    import yaml

    workflow = yaml.safe_load(block.body)
    steps = [step for job in workflow["jobs"].values() for step in job["steps"] if "run" in step]
    checked = 0
    for step in steps:
        for argv in commands(Block(block.page, block.line, "bash", step["run"], "run", "")):
            if argv[0] in ("harness", "pytest", "make"):
                check_command(argv, block, pytest_flags, synopsis=False)
                checked += 1
    assert checked, f"{block}: no harness, pytest or make command in its steps"


@pytest.mark.parametrize("block", [b for b in of("run", "yaml") if "github-workflow" not in b.rest], ids=str)
def test_topology_blocks_load(block, tmp_path):
    for name in (block.option("files") or "").split(","):
        if name := name.strip():
            path = tmp_path / name
            path.mkdir(parents=True) if name.endswith("/") else (path.parent.mkdir(parents=True, exist_ok=True),
                                                                 path.touch())
    file = tmp_path / (block.option("file") or "topology.yaml")
    file.write_text(block.body)
    spec = harness.load_topology(file)
    assert spec.services, f"{block}: no service"


@pytest.mark.parametrize("block", of("run", "ini", "toml"), ids=str)
def test_config_blocks_parse(block):
    if block.lang == "toml":
        tomllib.loads(block.body)
    else:
        configparser.ConfigParser().read_string(block.body)


def commands(block: Block) -> list[list[str]]:
    """Each command of a shell block, continuation lines joined, comments dropped; `A | B` pipes split."""
    text = re.sub(r"\\\n\s*", " ", block.body)
    found = []
    for line in text.splitlines():
        line = re.sub(r"(^|\s)#.*$", "", line).strip()
        for part in filter(None, (p.strip() for p in line.split(" | "))):
            found.append(shlex.split(part))
    return found


@pytest.fixture(scope="module")
def pytest_flags() -> set[str]:
    """Every option pytest knows with the installed plugins, this one included (`--help` hides aliases such as
    `--junitxml`). schemathesis' and hypothesis' plugins are left out, as this project's ini file does."""
    from _pytest.config import get_config

    config = get_config()
    for name in ("schemathesis", "hypothesispytest"):
        config.pluginmanager.set_blocked(name)
    config.pluginmanager.load_setuptools_entrypoints("pytest11")
    parser = config._parser
    return {name for group in [parser._anonymous, *parser._groups] for option in group.options
            for name in option.names()}


def harness_flags(command: str) -> set[str]:
    sub = next(a for a in build_parser()._actions if a.dest == "command").choices[command]
    return {flag for action in sub._actions for flag in action.option_strings} - {"-h", "--help"}


def make_targets() -> set[str]:
    return set(re.findall(r"^([\w-]+):", (ROOT / "Makefile").read_text(), re.MULTILINE))


def check_command(argv: list[str], block: Block, pytest_flags: set[str], synopsis: bool) -> None:
    program, args = argv[0], argv[1:]
    if program == "make":
        assert set(args) <= make_targets(), f"{block}: make {' '.join(args)}: no such target in the Makefile"
    elif program == "pytest":
        unknown = {a.split("=")[0] for a in args if a.startswith("--")} - pytest_flags
        assert not unknown, f"{block}: pytest has no option {', '.join(sorted(unknown))}"
    elif program == "harness" and synopsis:
        flags = {f.strip("[]").split("=")[0] for a in args for f in a.split("|") if f.strip("[]").startswith("-")}
        unknown = flags - harness_flags(args[0])
        assert not unknown, f"{block}: harness {args[0]} has no option {', '.join(sorted(unknown))}"
        bare = args[0] != "logs" and len(args) > 1 and not args[1].startswith(("-", "[-"))
        assert not bare, f"{block}: `{shlex.join(argv)}`: the file is `--topology FILE`"
    elif program == "harness":
        try:
            args = build_parser().parse_args(args)
        except SystemExit:
            pytest.fail(f"{block}: `{shlex.join(argv)}` is refused by harness's parser (its message is above)")
        assert not getattr(args, "files", None), f"{block}: `{shlex.join(argv)}`: the file is `--topology FILE`"
    else:
        pytest.fail(f"{block}: cannot check `{shlex.join(argv)}` (harness, pytest and make are): mark it skip")


@pytest.mark.parametrize("block", of("run", "bash") + of("flags", "bash"), ids=str)
def test_shell_blocks_are_commands_that_exist(block, pytest_flags):
    found = commands(block)
    assert found, f"{block}: no command"
    for argv in found:
        check_command(argv, block, pytest_flags, synopsis=block.kind == "flags")


def test_the_layout_names_every_module_of_the_harness_package():
    tree = next(b for b in ALL if b.page == "docs/contributing/index.md" and b.body.startswith("harness/"))
    named = set(re.findall(r"^  ([\w.]+/?)", tree.body, re.MULTILINE))
    present = {f"{p.name}/" if p.is_dir() else p.name for p in (ROOT / "harness").iterdir()
               if p.name != "__pycache__" and (p.is_dir() or p.suffix == ".py")}
    assert named == present, f"docs/contributing/index.md's layout: missing {present - named}, gone {named - present}"


# --- the generated reference -----------------------------------------------------------------------------------------

sys.path.insert(0, str(ROOT / "docs" / "hooks"))
import reference  # noqa: E402 - docs/hooks/reference.py, the mkdocs hook


def test_every_topology_key_has_a_description():
    missing = [key.path for key in reference.topology_keys() if not key.description]
    assert not missing, "keys without a description (Field(description=...) in harness/model/topology.py): " + \
        ", ".join(missing)


def test_the_topology_reference_has_every_key_of_the_model():
    from harness.model.base import internal
    from harness.model.parts import ReadyProbe
    from harness.model.service import ServiceSpec
    from harness.model.topology import ContractsSpec, TopologySpec

    paths = {key.path for key in reference.topology_keys()}
    for model, prefix in ((TopologySpec, ""), (ServiceSpec, "services.NAME."), (ReadyProbe, "services.NAME.ready."),
                          (ContractsSpec, "contracts.")):
        for name, field in model.model_fields.items():
            assert (prefix + (field.alias or name) in paths) is not internal(field)
    assert "services.NAME.outside_network_mode" not in paths  # the compose reader's: no key a user writes
    assert "services.NAME.mounts[].copy" in paths  # the name a file uses, not the attribute's
    table = reference.topology_keys_reference()
    assert "| `services.NAME.ready.http.port` | int |" in table
    assert "| `services.NAME.files[].mode` | int | `0444` |" in table


def test_the_errors_reference_has_every_error_class_and_exit_code():
    import harness.errors

    text = reference.errors_reference()
    for name in harness.errors.__all__:
        assert f"### `{name}`" in text
    assert "### `ServiceExited`\n\nExit code **1**" in text
    assert "### `DockerUnavailable`\n\nExit code **3**" in text
    assert [code for code, _ in reference.exit_codes()] == [0, 1, 2, 3, 4, 130, 143]


def test_the_options_reference_has_every_option_of_both_front_ends(pytest_flags):
    from harness.options import COMMANDS, options

    text = reference.options_reference()
    for option in options():
        row = next(line for line in text.splitlines() if f"| {option.help} |" in line)
        for flag in (*option.cli, option.pytest, option.ini):
            assert flag is None or f"`{flag}`" in row, (option.name, flag)
    plugin_flags = {f for f in pytest_flags if f.startswith(("--topology", "--pact", "--fuzz", "--image-substitute",
                                                             "--provider-", "--publish-verification-results",
                                                             "--observe"))}
    assert plugin_flags == {o.pytest for o in options() if o.pytest}
    for command in COMMANDS:
        in_table = {flag for o in options() if command in o.commands for flag in o.cli if flag.startswith("-")}
        assert harness_flags(command) == in_table, command
    assert "| `--mode` (fuzz) | `--fuzz-mode` |  | `positive, negative, all` |" in text


def test_the_hook_fills_every_marker_and_refuses_an_unknown_one():
    page = (ROOT / "docs" / "reference" / "errors.md").read_text()
    rendered = reference.on_page_markdown(page, None, None, None)
    assert "<!-- reference:" not in rendered and "| **130** |" in rendered
    with pytest.raises(KeyError):
        reference.on_page_markdown("<!-- reference: nothing -->", None, None, None)


def test_the_compose_guide_has_every_key_of_the_compose_tables():
    from harness.model.compose_keys import HONOURED, IGNORED, REFUSED, kinds

    page = reference.on_page_markdown((ROOT / "docs" / "guides" / "compose.md").read_text(), None, None, None)
    assert "<!-- reference:" not in page
    for kind in kinds():
        for key in HONOURED[kind]:
            assert f"| `{key}` | honoured |" in page, (kind, key)
        for key in IGNORED[kind]:
            assert f"| `{key}` | ignored (a note) |" in page, (kind, key)
        for key in REFUSED[kind]:
            assert f"| `{key}` | **refused** |" in page, (kind, key)
    assert ("| `provider` | **refused** | a provider plugin runs outside Docker (by construction). Docker Compose: "
            "runs the provider's binary instead of a container |") in page
