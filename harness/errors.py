"""Every failure a user can act on, one class per kind. `str(error)` is the whole message meant for a person; the
fields (`service`, `location`, `hint`, ...) are there for programs: each class declares its own, typed, as keyword
parameters of its constructor.

Exit codes of the CLI come from the class:

    0  everything passed
    1  failures found: pacts, fuzzing, drift, a service of the topology that exits or never gets ready
    2  bad input: topology file, pact file, states module, options
    3  environment: Docker engine, image, build, an operation Docker refuses
    4  internal error (a bug of pytest-topology: please report it)

This module imports nothing but the standard library, so every stage may raise these.
"""

from __future__ import annotations

import warnings
from typing import Any

EXIT_PASSED, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_ENVIRONMENT, EXIT_INTERNAL = 0, 1, 2, 3, 4


class HarnessError(Exception):
    """Base class. `str(error)` is `message`, then `hint` on its own line: what to do, when it is said apart (None
    when the message says it itself, as a topology file's one-line errors do)."""

    exit_code: int = EXIT_BAD_INPUT  # of the CLI; a class constant but for ImageMissing and TopologyShareError

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(f"{message}\n{hint}" if hint else message)

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled by its fields, not its constructor (subclasses take other arguments): results that carry an error
        travel between processes (pytest-xdist workers, the fuzz and verifier workers)."""
        return _rebuilt, (type(self), self.args, self.__dict__)


def _rebuilt(cls: type[HarnessError], args: tuple[Any, ...], fields: dict[str, Any]) -> HarnessError:
    error = cls.__new__(cls)
    Exception.__init__(error, *args)
    error.__dict__.update(fields)
    return error


# --- bad input (exit 2) --------------------------------------------------------------------------------------------

class TopologyFileError(HarnessError):
    """The topology (or compose) file, or a topology built in Python, is invalid. `location` is `file:line`, or for
    a topology without a file `topology 'NAME'` (the dotted path of the key starts the message after it).
    `engine_needs`: what the file's keys need of the Docker engine (harness.model.engine_needs.EngineNeed), so that
    a front-end can say, in the same message, which of them a reachable engine refuses too. `compose_reads`: Docker
    Compose reads the file (only pytest-topology refuses it), so `harness down`/`ps` on it act as Compose's do."""

    engine_needs: tuple[Any, ...] = ()
    compose_reads: bool = False

    def __init__(self, location: str, message: str, *, hint: str | None = None) -> None:
        self.location = location
        super().__init__(f"{location}: {message}", hint=hint)


class UnknownKeyword(TopologyFileError, TypeError):
    """A keyword the builder does not take (`service("api", imgae=...)`), said as an unknown key of a topology file
    is; a TypeError too, as Python's own for an unexpected keyword. Fields: `keyword`, `allowed` (the keywords it
    takes), `suggestion` (the closest of them, or None)."""

    def __init__(self, location: str, message: str, *, keyword: str, allowed: list[str],
                 suggestion: str | None = None) -> None:
        self.keyword, self.allowed, self.suggestion = keyword, allowed, suggestion
        super().__init__(location, message)


class NotATopology(HarnessError, TypeError):
    """Something given as a topology that is none of: a file path (or a list of compose files), a
    `harness.topology(...)` builder, a `TopologySpec`. `found` is its type's name; `where` (or None) what was given
    it (`fixture 'shop_topology'`, `Topology.start`), the message's start."""

    def __init__(self, found: str, *, where: str | None = None) -> None:
        self.found = found
        self.where = where
        super().__init__(f"{where + ': ' if where else ''}a topology is a file path, a harness.topology(...) builder "
                         f"or a TopologySpec, not {found}")


class DependencyCycle(HarnessError, ValueError):
    """`depends_on` edges form a cycle (`StartPlan.of`). `names` is the cycle, its first service repeated at the end.
    A TopologySpec's validation turns it into a TopologyFileError at the first service's `depends_on`."""

    def __init__(self, names: list[str]) -> None:
        self.names = names
        super().__init__(f"dependency cycle: {' -> '.join(names)}")


class UnknownService(HarnessError, KeyError):
    """A name that is not a service of the topology (`topology["nope"]`, an edge, an option). Fields: `name`,
    `known` (the topology's services), `topology` (its name), `suggestion` (the closest service, or None)."""

    def __init__(self, name: str, known: list[str], topology: str, suggestion: str | None = None, *,
                 no_replica: bool = False) -> None:
        self.name, self.known, self.topology, self.suggestion = name, known, topology, suggestion
        near = f" (did you mean '{suggestion}'?)" if suggestion else ""
        if no_replica:  # a service of the file that runs no container (`scale: 0`)
            super().__init__(f"service '{name}' of topology '{topology}' has 0 replicas (`scale: 0`, "
                             "`deploy.replicas: 0` or `replicas: 0`): no container of it runs, as under Docker "
                             "Compose; give it a replica to call it")
            return
        super().__init__(f"no service '{name}' in topology '{topology}'{near}; services: {', '.join(known)}")

    def __str__(self) -> str:  # KeyError would quote the message
        return self.message


class UnknownProvider(HarnessError):
    """A pact's provider is not a service of the topology (nor mapped to one by `pact_name` or `contracts.names`).
    Fields: `provider` (the name the pact gives it), `pact` (the pact file's name)."""

    def __init__(self, message: str, *, provider: str, pact: str) -> None:
        self.provider, self.pact = provider, pact
        super().__init__(message)


class PortNotPublished(HarnessError):
    """A running service's URL or host port was asked for a port it does not publish. Fields: `service`, `port`
    (None: it publishes none, so it has no URL)."""

    def __init__(self, message: str, *, service: str, port: int | None = None) -> None:
        self.service, self.port = service, port
        super().__init__(message)


class InvalidCall(HarnessError, ValueError):
    """A call of the Python API that cannot be done as asked: a value the method does not take
    (`logs(stream="stdin")`, `logs(tail=-1)`, `kill("SIGFOO")`, `port(6379, "sctp")`), or a state that forbids it
    (`start()` waiting for the probe of a disconnected service). `argument` names the value (None: the state);
    the hint says what to do. Also a ValueError, as Python's own for a bad value."""

    def __init__(self, message: str, *, argument: str | None = None, hint: str | None = None) -> None:
        self.argument = argument
        super().__init__(message, hint=hint)


class OptionError(HarnessError):
    """A command-line option or ini value that cannot be used."""


class BrokerRefused(HarnessError):
    """The Pact Broker refused the credentials (401) or the action with them (403); the message names the broker and
    which credential variable was used, never its value. `short`: the same in one short clause (no request, no hint),
    for a message that repeats it; `status`: the broker's answer (401 or 403; 0: not known)."""

    def __init__(self, message: str, *, hint: str | None = None, short: str = "", status: int = 0) -> None:
        self.short = short or message
        self.status = status
        super().__init__(message, hint=hint)


class NothingToFuzz(HarnessError):
    """No service to fuzz: none declares `openapi:`, or services named for fuzzing are not services with one.
    `unknown` lists those names (empty when none declares `openapi:`)."""

    def __init__(self, message: str, *, unknown: list[str]) -> None:
        self.unknown = unknown
        super().__init__(message)


class MalformedPact(HarnessError):
    """A file in the pact folder is not a pact that can be verified. `location` is `file[:line]` (None: the message
    names it)."""

    def __init__(self, message: str, *, location: str | None = None, hint: str | None = None) -> None:
        self.location = location
        super().__init__(message, hint=hint)


class StatesModuleError(HarnessError):
    """A states module named under `contracts.states` cannot be loaded."""


class MissingProviderStates(HarnessError):
    """Pacts use provider states or messages that no handler serves; found before anything is verified."""


class MissingMessageProducer(HarnessError):
    """A message interaction has no @message_producer for its description. Fields: `description`, `provider`."""

    def __init__(self, message: str, *, description: str | None = None, provider: str | None = None,
                 hint: str | None = None) -> None:
        self.description, self.provider = description, provider
        super().__init__(message, hint=hint)


class PactInputProblems(HarnessError):
    """Everything the pact files, the states modules and the options of a verification show to be wrong, found
    before anything starts and said at once, each once. `problems`: one text per problem (file or option named);
    `hints`: what to do, once per kind."""

    def __init__(self, problems: list[str], hints: list[str] | None = None) -> None:
        self.problems = problems
        self.hints = list(dict.fromkeys(hints or []))
        lines = "\n".join("  - " + problem.replace("\n", "\n    ") for problem in problems)
        super().__init__(f"{len(problems)} problem(s) in the pacts, the states modules or the options; nothing was "
                         "started:\n" + lines + "".join(f"\n{hint}" for hint in self.hints))


class ProviderStateFailed(HarnessError):
    """A provider-state handler could not set its state up (e.g. a command in the provider's container failed).
    Fields: `service`, `command`, `command_exit` (the command's exit code; `exit_code` is the CLI's)."""

    exit_code = EXIT_FAILED  # the provider side did not keep the contract: a failure, not bad input

    def __init__(self, message: str, *, service: str, command: str | list[str], command_exit: int) -> None:
        self.service, self.command, self.command_exit = service, command, command_exit
        super().__init__(message)


class AuthHookError(HarnessError):
    """A service's `auth: {hook: module:function}` cannot be imported or called. Fields: `service`, `hook`."""

    def __init__(self, message: str, *, service: str, hook: str, hint: str | None = None) -> None:
        self.service, self.hook = service, hook
        super().__init__(message, hint=hint)


class AuthRefused(HarnessError):
    """The token service of a service's `auth: {client_credentials: ...}` refused the client. Fields: `url` (where
    the token was asked for), `client_id`, `status` (the HTTP status)."""

    def __init__(self, message: str, *, url: str, client_id: str, status: int) -> None:
        self.url, self.client_id, self.status = url, client_id, status
        super().__init__(message)


class OpenAPIUnavailable(HarnessError):
    """A service's OpenAPI document cannot be loaded (from the service, or from a file next to the topology), or is
    not a valid one. Fields: `service`, `location` (the URL or file tried), `status` (the HTTP status, if any)."""

    def __init__(self, message: str, *, service: str | None = None, location: str | None = None,
                 status: int | None = None, hint: str | None = None) -> None:
        self.service, self.location, self.status = service, location, status
        super().__init__(message, hint=hint)


class SchemathesisUnsupported(HarnessError):
    """The installed schemathesis does not show `st run`'s defaults (mode, checks, phases) where the harness reads
    them: a version it does not support."""


class TopologyNotRunning(HarnessError):
    """A command needs a running topology and there is none (or more than one) to use."""


class InvalidFault(HarnessError):
    """A fault that cannot be applied as asked: a delay that is not positive, a loss outside (0, 100], an edge from
    a service to itself, an unknown cut mode. Fields: `consumer`, `provider` (None: all its outgoing traffic)."""

    def __init__(self, message: str, *, consumer: str, provider: str | None) -> None:
        self.consumer, self.provider = consumer, provider
        super().__init__(message)


class ExtraMissing(HarnessError):
    """An option or command needs an optional part of pytest-topology that is not installed. Fields: `extra`
    (contracts, fuzz), `package` (the distribution missing), `feature` (the option or command)."""

    def __init__(self, feature: str, package: str, extra: str) -> None:
        self.feature, self.package, self.extra = feature, package, extra
        super().__init__(f"{feature} needs {package}: pip install 'pytest-topology[{extra}]'")


class RemoteMount(HarnessError):
    """Bind mounts on a remote Docker engine: their sources would name paths on the engine's machine. Fields:
    `services` (those with bind mounts), `engine` (the engine's address)."""

    def __init__(self, message: str, *, services: list[str], engine: str, hint: str | None = None) -> None:
        self.services, self.engine = services, engine
        super().__init__(message, hint=hint)


# --- environment (exit 3) ------------------------------------------------------------------------------------------

class EnvironmentProblem(HarnessError):
    """The machine, the engine or a service's image or container is what failed, not the input."""

    exit_code = EXIT_ENVIRONMENT


class DockerUnavailable(EnvironmentProblem):
    """No Docker engine answers. `address` is where one was looked for."""

    def __init__(self, message: str, *, address: str | None = None, hint: str | None = None) -> None:
        self.address = address
        super().__init__(message, hint=hint)


class DockerError(EnvironmentProblem):
    """The Docker engine refused an operation (create, start, remove, ...). `service` and `operation` say which;
    `run` is the run's id when the operation is on the whole run."""

    def __init__(self, message: str, *, service: str | None = None, operation: str | None = None,
                 run: str | None = None, hint: str | None = None) -> None:
        self.service, self.operation, self.run = service, operation, run
        super().__init__(message, hint=hint)


class ImageMissing(EnvironmentProblem):
    """Images of the topology (`image:` or a Dockerfile's FROM) are not in the local engine and could not be
    pulled. `images` lists them all. `exit_code` is 2 (bad input) when every one is a reference Docker refuses."""

    def __init__(self, message: str, *, images: list[str], exit_code: int = EXIT_ENVIRONMENT,
                 hint: str | None = None) -> None:
        self.images, self.exit_code = images, exit_code
        super().__init__(message, hint=hint)


class ComposeUnavailable(EnvironmentProblem):
    """No Docker Compose v2 binary to read a compose file with."""


class BuildFailed(EnvironmentProblem):
    """`docker build` of a service's image failed. `service` names it; the message ends with the build log's last
    lines."""

    def __init__(self, message: str, *, service: str | None = None, hint: str | None = None) -> None:
        self.service = service
        super().__init__(message, hint=hint)


# --- a service of the topology failed (exit 1, like any failure found: the services are what is under test) ----------

class ServiceFailed(HarnessError):
    """A service of the topology did not come up: its own failure, not the machine's."""

    exit_code = EXIT_FAILED


class ServiceNotReady(ServiceFailed):
    """A service did not pass its readiness probe in time. Fields: `service`, `probe` (the probe described; None
    for a job, which must exit), `waited` (seconds)."""

    def __init__(self, message: str, *, service: str | None = None, probe: str | None = None,
                 waited: float | None = None, hint: str | None = None) -> None:
        self.service, self.probe, self.waited = service, probe, waited
        super().__init__(message, hint=hint)


class ServiceExited(ServiceFailed):
    """A service's container exited while the topology was starting (also while its probe ran). Fields: `service`,
    `container_exit` (its exit code; `exit_code` is the CLI's), `oom_killed` (the kernel killed it: out of memory)."""

    def __init__(self, message: str, *, service: str | None = None, container_exit: int | None = None,
                 oom_killed: bool = False) -> None:
        self.service, self.container_exit, self.oom_killed = service, container_exit, oom_killed
        super().__init__(message)


class HookFailed(ServiceFailed):
    """A service's `post_start` or `pre_stop` hook exited non-zero, or (`pre_stop`) did not end within its service's
    stop_grace_period. Fields: `service`, `hook` ("post_start" or "pre_stop"), `container_exit` (the hook's exit
    code; None when it did not end in time). Several pre_stop failures of one teardown are one error, one line each
    (`service` and `container_exit`: the first's)."""

    def __init__(self, message: str, *, service: str | None = None, hook: str = "post_start",
                 container_exit: int | None = None, hint: str | None = None) -> None:
        self.service, self.hook, self.container_exit = service, hook, container_exit
        super().__init__(message, hint=hint)


class FaultError(EnvironmentProblem):
    """A fault could not be applied or removed: the helper image did not build, the helper container did not start
    (the consumer is not running), or its netfilter rules were refused. Fields: `consumer`, `provider` (None: the
    helper image, which belongs to no edge)."""

    def __init__(self, message: str, *, consumer: str | None, provider: str | None) -> None:
        self.consumer, self.provider = consumer, provider
        super().__init__(message)


class ObserveError(EnvironmentProblem):
    """Observed traffic (`--observe`) could not be captured or read: the observation helper image did not build, or a
    helper container did not start in its service's network namespace."""


class TopologyShareError(EnvironmentProblem):
    """pytest-xdist workers share one topology: another worker could not start it (`exit_code` is that failure's),
    or it is gone from the engine."""

    def __init__(self, message: str, *, exit_code: int = EXIT_ENVIRONMENT) -> None:
        self.exit_code = exit_code
        super().__init__(message)


class BrokerUnavailable(EnvironmentProblem):
    """The Pact Broker cannot be reached, or answered with an error other than refusing the credentials."""


class PactVerifierError(EnvironmentProblem):
    """pact-python's Verifier could not run a verification (a configuration error, not a mismatch). `location`: the
    file or option concerned, if one is."""

    def __init__(self, message: str, *, location: str | None = None, hint: str | None = None) -> None:
        self.location = location
        super().__init__(message, hint=hint)


__all__ = [name for name, value in dict(globals()).items()
           if isinstance(value, type) and issubclass(value, HarnessError)]


def __getattr__(name: str) -> Any:
    if name == "SpecUnavailable":  # its former name ("spec" also meant the topology)
        warnings.warn("SpecUnavailable is deprecated: use OpenAPIUnavailable", DeprecationWarning,
                      stacklevel=2)
        return OpenAPIUnavailable
    raise AttributeError(f"module 'harness.errors' has no attribute {name!r}")
