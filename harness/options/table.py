"""Every option of pytest-topology, once: its name, type, default, help, CLI flag(s) and commands, pytest flag, ini
key and validator. `harness --help`, every `harness COMMAND --help`, `pytest --help` and the ini keys are generated
from OPTIONS (harness.cli.parser, harness.pytest.options).

The naming rule: an option that exists in both front-ends has the same name in both, except that under its own
command (`harness fuzz`, `harness verify|drift`) the feature's prefix is dropped: pytest `--fuzz-seed` is `harness
fuzz --seed`, pytest `--topology-report` is `--report`, pytest `--pact-no-cache` is `harness verify --no-cache`. The
topology options (`--topology`, `--topology-profile`, `--topology-env-file`, `--image-substitute`) are spelt the same
everywhere. Every command that reads a topology file
takes it as `--topology FILE` (`-f FILE`, as Compose), repeatable for compose files merged.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.model.selectors import parse_date, parse_selector
from harness.options.outputs import html_file

CLI, PYTEST = "cli", "pytest"  # the two front-ends
# the naming rule: a feature's pytest flags start with its prefix, which its own `harness` command drops
PREFIXES = {"fuzz": "--fuzz-", "report": "--topology-", "contracts": "--pact-"}


def _whole_number(minimum: int | None = None) -> Callable[[str], int]:
    """A validator: the text as an int, at least `minimum` (when given). ValueError says what was expected."""
    expected = "a whole number" + (f" of at least {minimum}" if minimum is not None else "")

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise ValueError(f"{expected}, not {text!r}") from None
        if minimum is not None and value < minimum:
            raise ValueError(f"{expected}, not {text!r}")
        return value
    parse.__doc__ = expected
    return parse


def number(text: str) -> float:
    """A validator: the text as a float."""
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"a number, not {text!r}") from None


def percent(text: str) -> float:
    """A validator: a percentage, 0 to 100."""
    value = number(text)
    if not 0 <= value <= 100:
        raise ValueError(f"a percentage from 0 to 100, not {text!r}")
    return value


def _one_of(*choices: str) -> Callable[[str], str]:
    """A validator: one of `choices`."""
    def parse(text: str) -> str:
        if text not in choices:
            raise ValueError(f"one of {', '.join(choices)}, not {text!r}")
        return text
    parse.__doc__ = f"one of {', '.join(choices)}"
    return parse


def names(text: str) -> list[str]:
    """A validator: a comma-separated list (`a,b`) as its names; [] when it names none (refused by the feature, which
    knows the names there are: harness.fuzz.options.refuse_unknown_names)."""
    return [part.strip() for part in text.split(",") if part.strip()]


def service_version(text: str) -> tuple[str, str]:
    """A validator: `SERVICE=VERSION` as (service, version)."""
    service, _, version = text.partition("=")
    if not service.strip() or not version.strip():
        raise ValueError(f"SERVICE=VERSION, e.g. gateway=1.4.2, not {text!r}")
    return service.strip(), version.strip()


@dataclass(frozen=True)
class Option:
    """One option. `name` is its attribute on the resolved options and its dest in both front-ends.

    kind: the value's type (str, int, float, Path, bool; bool: a switch that takes no value). repeatable: given
    several times, its values form a list. cli: its flags under `harness COMMAND` for each of `commands` (a name
    without '-' is a positional argument). pytest: its pytest flag. ini: its pytest ini key (`ini_type` as pytest's
    addini: None for a string, "bool", "args", "linelist"); a command-line value wins over the ini value, except for
    `ini_merged` lists, which are the ini's values then the command line's. validate: parses one given text, raising
    ValueError(what was expected) when it is invalid. const: the value of a flag given without one (`--cut`).
    env: the environment variable read by the CLI when neither the command line nor the ini gives a value (as
    Docker Compose reads COMPOSE_PROJECT_NAME for its `-p`).
    """

    name: str
    feature: str  # topology, session, contracts, fuzz, report, or the command it belongs to
    help: str
    kind: type = str
    default: Any = None
    repeatable: bool = False
    metavar: str | None = None
    cli: tuple[str, ...] = ()
    commands: tuple[str, ...] = ()
    pytest: str | None = None
    ini: str | None = None
    ini_type: str | None = None
    ini_merged: bool = False
    validate: Callable[[str], Any] | None = None
    const: str | None = None
    env: str | None = None

    def flag(self, front_end: str) -> str:
        """How a user writes this option in `front_end` (CLI or PYTEST): its first flag there. KeyError: it has none."""
        flag = self.cli[0] if front_end == CLI and self.cli else self.pytest if front_end == PYTEST else None
        if not flag:
            raise KeyError(f"option {self.name} has no {front_end} flag")
        return flag

    def parse(self, text: Any, where: str) -> Any:
        """One value as given (a string from a command line or an ini file) in its type. Raises ValueError with
        `where` (the flag or ini key as written) and what was expected."""
        if text is None or self.kind is bool or not isinstance(text, str):
            return text
        try:
            if self.validate is not None:
                return self.validate(text)
            return Path(text) if self.kind is Path else text
        except ValueError as error:
            raise ValueError(f"{where}: {error}") from None


TOPOLOGY_COMMANDS = ("up", "down", "logs", "graph", "fault", "verify", "fuzz", "drift", "publish", "can-i-deploy",
                     "record-deployment")
FILE_COMMANDS = (*TOPOLOGY_COMMANDS, "prune", "ps")  # prune (given) and ps read a file for its engines
BROKER_COMMANDS = ("publish", "can-i-deploy", "record-deployment")
MODES = ("positive", "negative", "all")

COMMANDS: dict[str, str] = {
    "up": "start a topology, print its URLs, keep it until Ctrl-C (or --detach)",
    "down": "remove kept topologies and those whose owner process is gone: of one file (--topology), of the files "
            "under this folder, one run, or --all",
    "prune": "remove unused built images of each build context under this folder but the newest N, untagged ones "
             "too (--all: anywhere, and unused image-substitute tags); with --topology FILE across engines, also "
             "from each of its engines (the copies of the images built here)",
    "ps": "list running topologies and their services, and runs left behind by a process that died (with the "
          "command that removes them), on this machine's engine, the engines of the topology file (--topology, or "
          "the ini's) and those the runs found there name; given --topology FILE, only the runs of that file",
    "logs": "print a service's log",
    "verify": "verify every pact against its provider running in the topology",
    "fuzz": "run schemathesis against every service of the topology with `openapi:`, one after another",
    "drift": "check every pact against its provider's OpenAPI document, statically (nothing is started)",
    "fault": "put a fault on the calls one service makes to another in a running topology (harness up --detach), "
             "list the faults in place, or remove them (--clear)",
    "graph": "print the dependency graph as text and Mermaid",
    "publish": "publish the pact folder's pacts to the Pact Broker (consumer version and branch: the git checkout's, "
               "unless given)",
    "can-i-deploy": "ask the Pact Broker whether every service of the topology, at its version, can be deployed to "
                    "an environment; print the edge matrix; exit 0 only when it says yes for all",
    "record-deployment": "record at the Pact Broker that every service of the topology, at its version, is deployed "
                         "to an environment",
}

def _project_name(text: str) -> str:
    """A project name as Compose takes it (compose-go's loader rule), in Compose's words, with the name Compose makes
    of a folder's name as the one to give."""
    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", text):
        from harness.model.base import topology_name

        valid = topology_name(text)
        raise ValueError(f"invalid project name {text!r}: must consist only of lowercase alphanumeric characters, "
                         "hyphens, and underscores as well as start with a letter or number (Docker Compose's rule)"
                         + (f"; give {valid!r}, say" if valid else ""))
    return text


OPTIONS: tuple[Option, ...] = (
    # the topology: every command that reads a topology file, and pytest
    Option("topology", "topology", "topology file (YAML or docker-compose); repeatable: compose files merged by "
           "Compose (`-f a -f b`); a folder reads its compose file and override as `docker compose` does",
           kind=Path, repeatable=True, metavar="FILE", cli=("--topology", "-f"), commands=FILE_COMMANDS,
           pytest="--topology", ini="topology", ini_type="linelist"),
    Option("topology_profile", "topology", "compose file: enable this profile (repeatable; COMPOSE_PROFILES is read "
           "too)", repeatable=True, metavar="PROFILE", cli=("--topology-profile",), commands=FILE_COMMANDS,
           pytest="--topology-profile", ini="topology_profiles", ini_type="args", ini_merged=True),
    Option("topology_env_file", "topology", "compose file: interpolation variables from FILE instead of .env",
           kind=Path, metavar="FILE", cli=("--topology-env-file",), commands=FILE_COMMANDS,
           pytest="--topology-env-file", ini="topology_env_file"),
    Option("project_name", "topology", "the project name, as `docker compose -p` (instead of the file's `name:`, "
           "or its folder's name; COMPOSE_PROJECT_NAME when not given); one file runs as several projects, each its "
           "own run", metavar="NAME", cli=("--project-name", "-p"), commands=("up", "down", "ps", "logs"),
           validate=_project_name, env="COMPOSE_PROJECT_NAME"),
    Option("image_substitute", "topology", "use SUBSTITUTE wherever IMAGE is named (image: and FROM lines); "
           "'docker.io/=PREFIX/' replaces a registry prefix (repeatable; pytest: the command line's win over the "
           "ini's)",
           repeatable=True, metavar="IMAGE=SUBSTITUTE", cli=("--image-substitute",), commands=TOPOLOGY_COMMANDS,
           pytest="--image-substitute", ini="image_substitutes", ini_type="linelist", ini_merged=True),
    Option("topology_swarm", "topology", "a topology across `engines:`: existing (they must form a Docker Swarm, the "
           "first its manager), join (when none is in a swarm, make one: swarm init on the first, join on the "
           "others; the swarm stays) or join-and-leave (as join, and a swarm the harness made is left once its last "
           "run is removed); a swarm the harness did not make is never joined, left or changed", metavar="MODE",
           default="existing",
           cli=("--topology-swarm",), commands=TOPOLOGY_COMMANDS, pytest="--topology-swarm", ini="topology_swarm",
           validate=_one_of("existing", "join", "join-and-leave")),
    # the pytest session
    Option("topology_keep", "session", "leave the topology running after the session and print its URLs (remove: "
           "harness down --topology FILE)", kind=bool, default=False, pytest="--topology-keep"),
    Option("topology_reuse", "session", "use the kept topology of the same file if it was started from the same "
           "spec and images, else start one and keep it (remove: harness down --topology FILE)", kind=bool,
           default=False, pytest="--topology-reuse", ini="topology_reuse", ini_type="bool"),
    Option("observe", "session", "observe the calls between services during the run (a passive capture in each "
           "service's network namespace) and report each edge's contract coverage in the matrix: calls covered by "
           "a pact interaction, uncovered calls, interactions never exercised, calls breaking the provider's OpenAPI "
           "document, connections not inspected (TLS, PostgreSQL, Redis, ...); information only, it fails nothing",
           kind=bool, default=False, cli=("--observe",), commands=("up",), pytest="--observe", ini="topology_observe",
           ini_type="bool"),
    Option("observe_fail_under", "session", "with --observe: fail the run (one test case of its own) when fewer than "
           "PCT percent of the kinds of calls between services (edge, method, path template, status) are covered by "
           "a pact interaction in every call", kind=float, metavar="PCT",
           cli=("--observe-fail-under",), commands=("up",), pytest="--observe-fail-under",
           ini="topology_observe_fail_under", validate=percent),
    Option("observe_strict", "session", "with --observe: fail the run (one test case of its own) when a call between "
           "services is covered by no pact interaction or breaks its provider's OpenAPI document (an error when a call "
           "could not be judged, or none was observed)", kind=bool,
           default=False, cli=("--observe-strict",), commands=("up",), pytest="--observe-strict",
           ini="topology_observe_strict", ini_type="bool"),
    Option("topology_per_worker", "session", "pytest-xdist: one topology per worker (default: one shared by all "
           "workers)", kind=bool, default=False, pytest="--topology-per-worker", ini="topology_per_worker",
           ini_type="bool"),
    # contracts
    Option("pact_verify", "contracts", "verify every pact of the topology's pact folder against its provider, one "
           "test per interaction (one Verifier run per pact file)", kind=bool, default=False,
           pytest="--pact-verify"),
    Option("pact_drift", "contracts", "check every pact against its provider's OpenAPI document, statically: one "
           "test per interaction", kind=bool, default=False, pytest="--pact-drift"),
    Option("pacts", "contracts", "the pact folder to verify, check or publish (default: contracts.pacts of the "
           "topology file; pytest: --pact-dir when given, for --pact-verify and --pact-drift alike)", kind=Path,
           metavar="DIR",
           cli=("--pacts",),
           commands=("verify", "drift", "publish"), pytest="--pacts"),
    Option("pact_dir", "contracts", "where the `pact` fixture writes pact files", kind=Path, default=Path("contracts"),
           metavar="DIR", pytest="--pact-dir", ini="pact_dir"),
    Option("provider", "contracts", "only pacts of this provider", metavar="PROVIDER", cli=("--provider",),
           commands=("verify", "drift")),
    Option("consumer", "contracts", "only pacts of this consumer", metavar="CONSUMER", cli=("--consumer",),
           commands=("verify",)),
    Option("pact_no_cache", "contracts", "verify every pact, also those verified before against the same provider "
           "(same image, configuration, topology and states code): the verdict cache is neither read nor written",
           kind=bool, default=False, cli=("--no-cache",), commands=("verify",), pytest="--pact-no-cache"),
    # a Pact Broker (credentials only from PACT_BROKER_TOKEN or PACT_BROKER_USERNAME/PASSWORD)
    Option("pact_broker_url", "contracts", "the Pact Broker: verify the pacts it selects for each provider service "
           "instead of the pact folder (read beside them only when --pacts or contracts.pacts is given), publish to "
           "it, ask it (default: contracts.broker.url, else PACT_BROKER_BASE_URL)", metavar="URL",
           cli=("--pact-broker-url",),
           commands=("verify", *BROKER_COMMANDS), pytest="--pact-broker-url"),
    Option("pact_selector", "contracts", "a consumer version selector (repeatable; default: contracts.broker."
           "selectors, else the broker's): JSON or key=value pairs, e.g. mainBranch, deployedOrReleased, "
           "branch=feat-x, environment=production, consumer=web,branch=main", repeatable=True, metavar="SELECTOR",
           cli=("--pact-selector",), commands=("verify",), pytest="--pact-selector", validate=parse_selector),
    Option("pact_include_pending", "contracts", "include pending pacts (a failing pending pact does not fail the "
           "run, and says so)", kind=bool, default=False, cli=("--pact-include-pending",), commands=("verify",),
           pytest="--pact-include-pending"),
    Option("pact_wip_since", "contracts", "include work-in-progress pacts published since this date (with pending)",
           metavar="YYYY-MM-DD", cli=("--pact-wip-since",), commands=("verify",), pytest="--pact-wip-since",
           validate=parse_date),
    Option("provider_version", "contracts", "the providers' version the verification results are published for; "
           "a successful result the broker has for it counts as verified, nothing re-run, unless --no-cache (default: "
           "git rev-parse HEAD)", metavar="VERSION", cli=("--provider-version",), commands=("verify",),
           pytest="--provider-version"),
    Option("provider_branch", "contracts", "the providers' branch (default: contracts.broker.provider_branch, else "
           "the git checkout's)", metavar="BRANCH", cli=("--provider-branch",), commands=("verify",),
           pytest="--provider-branch"),
    Option("publish_verification_results", "contracts", "publish each broker pact's verification result to the "
           "broker (default: only when CI=true and --provider-version is given)", kind=bool, default=False,
           cli=("--publish-verification-results",), commands=("verify",), pytest="--publish-verification-results"),
    Option("pact_publish", "contracts", "publish the pacts the consumer tests wrote to the Pact Broker at the end of "
           "a session that passed (default: only when CI=true and --pact-consumer-version is given)", kind=bool,
           default=False, pytest="--pact-publish"),
    Option("consumer_version", "contracts", "the consumer version pacts are published for (default: git rev-parse "
           "HEAD, marked COMMIT+SNAPSHOT.<host> when the checkout has uncommitted changes)", metavar="VERSION",
           cli=("--consumer-version",), commands=("publish",),
           pytest="--pact-consumer-version"),
    Option("consumer_branch", "contracts", "the consumer's branch pacts are published for (default: the git "
           "checkout's)", metavar="BRANCH", cli=("--consumer-branch",), commands=("publish",),
           pytest="--pact-consumer-branch"),
    Option("consumer_tag", "contracts", "a tag of the consumer version pacts are published for (repeatable)",
           repeatable=True, metavar="TAG", cli=("--consumer-tag",), commands=("publish",),
           pytest="--pact-consumer-tag"),
    Option("service_version", "contracts", "the version of a service at the Pact Broker (repeatable; default for "
           "every service: git rev-parse HEAD of the topology file's checkout; needed for a service whose files differ "
           "from that commit)", repeatable=True,
           metavar="SERVICE=VERSION", cli=("--version",), commands=("can-i-deploy", "record-deployment"),
           validate=service_version),
    Option("ignore_service", "contracts", "a service that takes part in no contract (a database, a cache): not asked "
           "about nor recorded (repeatable; as `pact broker can-i-deploy --ignore`); any other service the broker "
           "does not know makes can-i-deploy's answer no, and record-deployment refuses it and records nothing",
           repeatable=True, metavar="SERVICE", cli=("--ignore",), commands=("can-i-deploy", "record-deployment")),
    Option("to_environment", "can-i-deploy", "the environment to deploy to, as the broker names it",
           metavar="ENVIRONMENT", cli=("--to-environment",), commands=("can-i-deploy",)),
    Option("environment", "record-deployment", "the environment deployed to, as the broker names it",
           metavar="ENVIRONMENT", cli=("--environment",), commands=("record-deployment",)),
    # fuzzing
    Option("fuzz", "fuzz", "fuzz every service with `openapi:` (schemathesis): a test per service and operation, and "
           "one per service for the stateful sequences", kind=bool, default=False, pytest="--fuzz"),
    Option("fuzz_service", "fuzz", "only this service (repeatable)", repeatable=True, metavar="NAME",
           cli=("--service",), commands=("fuzz",), pytest="--fuzz-service"),
    Option("fuzz_max_examples", "fuzz", "examples per operation (default: schemathesis')", kind=int,
           metavar="N", cli=("--max-examples",), commands=("fuzz",), pytest="--fuzz-max-examples",
           validate=_whole_number(1)),
    Option("fuzz_seed", "fuzz", "seed, to reproduce a run (default: one drawn for the run)", kind=int, metavar="N",
           cli=("--seed",), commands=("fuzz",), pytest="--fuzz-seed", validate=_whole_number()),
    Option("fuzz_phases", "fuzz", "comma-separated, of: examples,coverage,fuzzing,stateful (default: `st run`'s)",
           kind=list, metavar="LIST", cli=("--phases",), commands=("fuzz",), pytest="--fuzz-phases", validate=names),
    Option("fuzz_checks", "fuzz", "comma-separated schemathesis checks (default: the service's `fuzz: {checks: "
           "...}`, else `st run`'s)", kind=list, metavar="LIST", cli=("--checks",), commands=("fuzz",),
           pytest="--fuzz-checks", validate=names),
    Option("fuzz_mode", "fuzz", "generated data: valid (positive), invalid (negative) or both (default: the "
           "service's `fuzz: {mode: ...}`, else `st run`'s)", metavar="|".join(MODES), cli=("--mode",),
           commands=("fuzz",), pytest="--fuzz-mode", validate=_one_of(*MODES)),
    Option("fuzz_workers", "fuzz", "schemathesis workers per service (services run one after another)", kind=int,
           default=1, metavar="N", cli=("--workers",), commands=("fuzz",), pytest="--fuzz-workers",
           validate=_whole_number(1)),
    Option("fuzz_suppress_health_check", "fuzz", "comma-separated Hypothesis health checks not to run, of: "
           "data_too_large,filter_too_much,too_slow,large_base_example,all (as `st run --suppress-health-check`; "
           "default: none, as `st run`: a health check that fails is an error of its operation)", kind=list,
           metavar="LIST", cli=("--suppress-health-check",), commands=("fuzz",),
           pytest="--fuzz-suppress-health-check", validate=names),
    Option("fuzz_baseline", "fuzz", "schemathesis' baseline file of accepted failures (as `st run --baseline`): "
           "the failures it lists are reported as accepted and do not fail; a file that does not exist is written "
           "from this run", kind=Path, metavar="FILE", cli=("--baseline",), commands=("fuzz",),
           pytest="--fuzz-baseline"),
    Option("fuzz_baseline_update", "fuzz", "add this run's new failures to the baseline file (as `st run "
           "--baseline-update`)", kind=bool, default=False, cli=("--baseline-update",), commands=("fuzz",),
           pytest="--fuzz-baseline-update"),
    Option("fuzz_baseline_prune", "fuzz", "drop the baseline file's entries whose operation this run tested and "
           "whose failure it did not find (as `st run --baseline-prune`)", kind=bool, default=False,
           cli=("--baseline-prune",), commands=("fuzz",), pytest="--fuzz-baseline-prune"),
    # reports
    Option("junit", "report", "write a JUnit XML report, one test case per interaction (verify, drift) or per "
           "service and operation (fuzz), per gate (up --observe-fail-under, --observe-strict); pytest: --junitxml",
           kind=Path, metavar="FILE", cli=("--junit",), commands=("verify", "fuzz", "drift", "up")),
    Option("topology_report", "report", "write the run's report page (one self-contained HTML file: the topology, "
           "contracts, fuzzing, failures) to FILE.html", kind=Path, metavar="FILE.html", cli=("--report",),
           commands=("fuzz", "drift"), pytest="--topology-report", ini="topology_report", validate=html_file),
    Option("annotations", "report", "CI annotations: `::error file=,line=::` per failing item (an interaction at its "
           "line in the pact, a fuzzed operation in its OpenAPI document, a topology that did not start) and a "
           "Markdown step summary to $GITHUB_STEP_SUMMARY when set; auto: github when GITHUB_ACTIONS=true",
           default="auto", metavar="auto|github|off", cli=("--annotations",), commands=("verify", "fuzz", "drift"),
           pytest="--topology-annotations", ini="topology_annotations", validate=_one_of("auto", "github", "off")),
    Option("verify_report", "report", "a folder for contract-matrix.json and .html; or FILE.html: the run's report "
           "page, with the matrix files beside it", kind=Path, default=Path("reports"), metavar="PATH",
           cli=("--report",), commands=("verify",)),
    # one command each
    Option("detach", "up", "leave it running and return (remove: harness down --topology FILE)", kind=bool,
           default=False, cli=("--detach", "-d"), commands=("up",)),
    Option("build_log", "up", "show docker build output", kind=bool, default=False, cli=("--build-log",),
           commands=("up",)),
    Option("run_id", "down", "only this run (its id as `harness ps` shows it)", metavar="RUN", cli=("--run",),
           commands=("down",)),
    Option("down_all", "down", "every kept topology on the engine, wherever its file is", kind=bool, default=False,
           cli=("--all",), commands=("down",)),
    Option("keep", "prune", "unused images kept per build context, the newest (default 0: every unused one is removed)",
           kind=int, default=0, metavar="N", cli=("--keep",), commands=("prune",), validate=_whole_number(0)),
    Option("prune_all", "prune", "build contexts anywhere, not only under this folder; also unused image-substitute "
           "tags (engine-wide)", kind=bool, default=False, cli=("--all",), commands=("prune",)),
    Option("service", "logs", "the service whose log is printed", metavar="SERVICE", cli=("service",),
           commands=("logs",)),
    Option("tail", "logs", "only the last N lines", kind=int, metavar="N", cli=("--tail",), commands=("logs",),
           validate=_whole_number(1)),
    Option("edge", "fault", "the service whose calls are affected; the service it calls (omitted: everything it "
           "calls)", repeatable=True, metavar="CONSUMER [PROVIDER]", cli=("edge",), commands=("fault",)),
    Option("delay", "fault", "hold each packet MS milliseconds", kind=int, metavar="MS", cli=("--delay",),
           commands=("fault",), validate=_whole_number(0)),
    Option("jitter", "fault", "with --delay: +- MS, uniform", kind=int, default=0, metavar="MS", cli=("--jitter",),
           commands=("fault",), validate=_whole_number(0)),
    Option("loss", "fault", "drop PERCENT % of the packets", kind=float, metavar="PERCENT", cli=("--loss",),
           commands=("fault",), validate=number),
    Option("cut", "fault", "cut the edge: reject (refused at once, the default) or drop (calls hang)",
           metavar="reject|drop", cli=("--cut",), commands=("fault",), validate=_one_of("reject", "drop"),
           const="reject"),
    Option("clear", "fault", "remove every fault of the topology", kind=bool, default=False, cli=("--clear",),
           commands=("fault",)),
    Option("format", "graph", "text, mermaid or both", default="both", metavar="text|mermaid|both",
           cli=("--format",), commands=("graph",), validate=_one_of("text", "mermaid", "both")),
)


def options(front_end: str | None = None, command: str | None = None) -> tuple[Option, ...]:
    """The options, in table order: all, those of one front-end (CLI or PYTEST), or those of one `harness COMMAND`.

        for option in options(): print(option.name, option.cli, option.pytest, option.ini, option.default)
    """
    return tuple(o for o in OPTIONS if (front_end is None or (o.cli if front_end == CLI else o.pytest))
                 and (command is None or command in o.commands))


def option(name: str) -> Option:
    """The option called `name`. KeyError: there is none."""
    for candidate in OPTIONS:
        if candidate.name == name:
            return candidate
    raise KeyError(name)


def flags(front_end: str, feature: str) -> dict[str, str]:
    """{name without the feature's prefix: flag} of a feature's options in `front_end`: what a message or a rerun
    hint writes, e.g. flags(CLI, "fuzz")["seed"] == "--seed", flags(PYTEST, "fuzz")["seed"] == "--fuzz-seed"."""
    return {o.name.removeprefix(f"{feature}_"): o.flag(front_end) for o in options(front_end)
            if o.feature == feature and o.kind is not bool}
