"""Every failure a user can act on, one class per kind. `str(error)` is the whole message meant for a person; the
fields (`service`, `location`, `hint`, ...) are there for programs.

Exit codes of the CLI come from the class:

    0  everything passed
    1  failures found: pacts, fuzzing, drift, a service of the topology that exits or never gets ready
    2  bad input: topology file, pact file, states module, options
    3  environment: Docker engine, image, build, an operation Docker refuses
    4  internal error (a bug of pytest-topology: please report it)

This module imports nothing but the standard library, so every stage may raise these.
"""

from __future__ import annotations

from typing import Any, ClassVar

EXIT_PASSED, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_ENVIRONMENT, EXIT_INTERNAL = 0, 1, 2, 3, 4


class HarnessError(Exception):
    """Base class. `hint` says what to do (already part of the message); extra keyword fields become attributes."""

    exit_code: ClassVar[int] = EXIT_BAD_INPUT

    def __init__(self, message: str, *, hint: str | None = None, **fields: Any) -> None:
        self.message = message
        self.hint = hint
        for name, value in fields.items():
            setattr(self, name, value)
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
    """The topology (or compose) file, or a topology built in Python, is invalid. `location` is `file:line` (or the
    topology's name for one built in Python)."""

    def __init__(self, location: str, message: str, **fields: Any) -> None:
        self.location = location
        super().__init__(f"{location}: {message}", **fields)


class DependencyCycle(HarnessError, ValueError):
    """`depends_on` edges form a cycle. `names` is the cycle, its first service repeated at the end. The loaders
    turn it into a TopologyFileError at the line of the first service's `depends_on`."""

    names: list[str]

    def __init__(self, names: list[str]) -> None:
        super().__init__(f"dependency cycle: {' -> '.join(names)}", names=names)


class UnknownService(HarnessError, KeyError):
    """A name that is not a service of the topology (`topology["nope"]`, an edge, an option)."""

    def __init__(self, name: str, known: list[str], topology: str, suggestion: str | None = None) -> None:
        near = f" (did you mean '{suggestion}'?)" if suggestion else ""
        super().__init__(f"no service '{name}' in topology '{topology}'{near}; services: {', '.join(known)}",
                         name=name, known=known, topology=topology, suggestion=suggestion)

    def __str__(self) -> str:  # KeyError would quote the message
        return self.message


class OptionError(HarnessError):
    """A command-line option or ini value that cannot be used."""


class MalformedPact(HarnessError):
    """A file in the pact folder is not a pact that can be verified. `location` is `file[:line]`."""


class StatesModuleError(HarnessError):
    """A states module named under `contracts.states` cannot be loaded."""


class MissingProviderStates(HarnessError):
    """Pacts use provider states or messages that no handler serves; found before anything is verified."""


class MissingMessageProducer(HarnessError):
    """A message interaction has no @message_producer for its description."""


class PactInputProblems(HarnessError):
    """Everything the pact files, the states modules and the options of a verification show to be wrong, found
    before anything starts and said at once, each once. `problems`: one text per problem (file or option named);
    `hints`: what to do, once per kind."""

    def __init__(self, problems: list[str], hints: list[str] | None = None) -> None:
        lines = "\n".join("  - " + problem.replace("\n", "\n    ") for problem in problems)
        hints = list(dict.fromkeys(hints or []))
        super().__init__(f"{len(problems)} problem(s) in the pacts, the states modules or the options; nothing was "
                         "started:\n" + lines + "".join(f"\n{hint}" for hint in hints), problems=problems, hints=hints)


class ProviderStateFailed(HarnessError):
    """A provider-state handler could not set its state up (e.g. a command in the provider's container failed).
    Fields: `service`, `command`, `exit_code`."""

    exit_code: ClassVar[int] = 1  # the provider side did not keep the contract: a failure, not bad input


class AuthHookError(HarnessError):
    """A service's `auth: {hook: module:function}` cannot be imported or called."""


class SpecUnavailable(HarnessError):
    """A service's OpenAPI document cannot be loaded (from the service, or from a file next to the topology)."""


class TopologyNotRunning(HarnessError):
    """A command needs a running topology and there is none (or more than one) to use."""


class InvalidFault(HarnessError):
    """A fault that cannot be applied as asked: a delay that is not positive, a loss outside (0, 100], an edge from
    a service to itself, an unknown cut mode. Fields: `consumer`, `provider` (None: all its outgoing traffic)."""


class ExtraMissing(HarnessError):
    """An option or command needs an optional part of pytest-topology that is not installed. Fields: `extra`
    (contracts, fuzz), `package` (the distribution missing), `feature` (the option or command)."""

    def __init__(self, feature: str, package: str, extra: str) -> None:
        super().__init__(f"{feature} needs {package}: pip install 'pytest-topology[{extra}]'",
                         feature=feature, package=package, extra=extra)


class RemoteMount(HarnessError):
    """A bind mount on a remote Docker engine: its source would name a path on the engine's machine. Fields:
    `service`, `source`, `engine`."""


# --- environment (exit 3) ------------------------------------------------------------------------------------------

class EnvironmentProblem(HarnessError):
    """The machine, the engine or a service's image or container is what failed, not the input."""

    exit_code: ClassVar[int] = EXIT_ENVIRONMENT


class DockerUnavailable(EnvironmentProblem):
    """No Docker engine answers. `address` is where one was looked for."""


class DockerError(EnvironmentProblem):
    """The Docker engine refused an operation (create, start, remove, ...). `service` and `operation` say which."""


class ImageMissing(EnvironmentProblem):
    """Images of the topology (`image:` or a Dockerfile's FROM) are not in the local engine and could not be
    pulled. `images` lists them all."""


class ComposeUnavailable(EnvironmentProblem):
    """No Docker Compose v2 binary to read a compose file with."""


class BuildFailed(EnvironmentProblem):
    """`docker build` of a service's image failed."""


# --- a service of the topology failed (exit 1, like any failure found: the services are what is under test) ----------

class ServiceFailed(HarnessError):
    """A service of the topology did not come up: its own failure, not the machine's."""

    exit_code: ClassVar[int] = EXIT_FAILED


class ServiceNotReady(ServiceFailed):
    """A service did not pass its readiness probe in time. Fields: `service`, `probe`, `waited` (seconds)."""


class ServiceExited(ServiceFailed):
    """A service's container exited while the topology was starting (also while its probe ran). Fields: `service`,
    `container_exit` (its exit code; `exit_code` is the CLI's), `oom_killed` (the kernel killed it: out of memory)."""


class FaultError(EnvironmentProblem):
    """A fault could not be applied or removed: the helper image did not build, the helper container did not start
    (the consumer is not running), or its netfilter rules were refused. Fields: `consumer`, `provider`."""


class TopologyShareError(EnvironmentProblem):
    """pytest-xdist workers share one topology: another worker could not start it (`exit_code` is that failure's),
    or it is gone from the engine."""


class PactVerifierError(EnvironmentProblem):
    """pact-python's Verifier could not run a verification (a configuration error, not a mismatch)."""


__all__ = [name for name, value in dict(globals()).items()
           if isinstance(value, type) and issubclass(value, HarnessError)]
