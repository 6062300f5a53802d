"""Every failure a user can act on has its own class; the message says what, where, and what to do."""

from __future__ import annotations


class HarnessError(Exception):
    """Base class: `str(error)` is the whole message meant for a person."""


class TopologyFileError(HarnessError):
    """The topology (or compose) file is unreadable or invalid. `location` is `file:line`."""

    def __init__(self, location: str, message: str) -> None:
        self.location = location
        super().__init__(f"{location}: {message}")


class DockerUnavailable(HarnessError):
    """No Docker engine answers."""


class ImageMissing(HarnessError):
    """An `image:` is not in the local engine and could not be pulled."""


class BuildFailed(HarnessError):
    """`docker build` of a service's image failed."""


class ServiceNotReady(HarnessError):
    """A service did not pass its readiness probe in time."""


class ServiceExited(HarnessError):
    """A service's container exited while the topology was starting."""


class TopologyNotRunning(HarnessError):
    """A command needs a running topology and there is none (or more than one) to use."""
