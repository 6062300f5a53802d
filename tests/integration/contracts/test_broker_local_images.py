"""A dependency of a provider given as an image built on this machine (`image: pricing:dev` built by hand, no
`build:`, no registry digest) is named by no commit (issue #25, trial t25d finding 2): rebuilt with another behaviour,
the provider's commit is the same, so the broker's results under it never count as cached for the provider, none are
published under it, and `harness can-i-deploy` names them in its "not counted" line; as for a base image built here.
Against the test broker and the real engine."""

from __future__ import annotations

from pathlib import Path

from tests.broker.server import BrokerServer

from .test_broker import TOKEN, good_pact, pact_cli, publish
from .test_broker_checkout import Broker, checkout
from .test_broker_deploy import verified
from .test_broker_publish import environment, harness
from .test_broker_states_tree import clean  # noqa: F401 - fixture
from .test_broker_version import BUILT


def with_pricing(image: str) -> str:
    """BUILT with the shop depending on a pricing service that runs `image`, and the web consumer."""
    return (BUILT.replace("    build: ./shop\n", "    build: ./shop\n    depends_on: [pricing]\n")
            + f"  pricing: {{image: '{image}'}}\n  web: {{image: 'redis:7', pact_name: web-frontend}}\n")


def why(image: str) -> str:
    return (f"pricing runs {image}, an image built on this machine (no registry digest in docker image inspect): no "
            "commit of the checkout names what it holds")


REMEDY = "give pricing an image pulled from a registry, or build it from the checkout (build:)"


def test_a_dependency_built_here_makes_the_commit_no_version_of_its_provider(
        tmp_path: Path, broker: BrokerServer, clean: None, local_base: str) -> None:  # noqa: F811
    at = Broker(broker, tmp_path)
    registry = checkout(tmp_path / "registry", {"topology.yaml": with_pricing("redis:7")})  # a registry's (stand-in)
    at.verified(registry)
    assert at.decided(registry / "topology.yaml") == (False, [])  # the broker's success counts

    repo = checkout(tmp_path, {"topology.yaml": with_pricing(local_base)})
    commit = at.verified(repo)
    needs, notes = at.decided(repo / "topology.yaml")
    assert needs, notes
    assert notes == [f"the Pact Broker's verification results do not count as cached for shop: the git checkout's "
                     f"commit does not name what it runs ({why(local_base)}; {REMEDY})"]
    assert at.refused(repo / "topology.yaml") == (
        f"publishing verification results from a git checkout whose commit {commit} does not name the "
        f"code verified here ({why(local_base)}; a clean checkout of it would take this result as its own): {REMEDY}")


def test_can_i_deploy_does_not_count_a_yes_resting_on_a_dependency_built_here(
        tmp_path: Path, broker: BrokerServer, local_base: str) -> None:
    repo = checkout(tmp_path, {"topology.yaml": with_pricing(local_base)})
    file = repo / "topology.yaml"
    commit = Broker(broker, tmp_path).verified(repo)
    publish(broker, tmp_path, good_pact(), commit, "main")
    verified(broker, "web-frontend", commit, commit, True)  # as harness verify --provider-version COMMIT publishes
    assert pact_cli(broker, "create-environment", "--name", "production").returncode == 0
    assert pact_cli(broker, "record-deployment", "--pacticipant", "shop", "--version", commit, "--environment",
                    "production").returncode == 0
    done = harness(repo, "can-i-deploy", "--topology", str(file), "--to-environment", "production", "--ignore",
                   "pricing", env=environment(PACT_BROKER_BASE_URL=broker.url, PACT_BROKER_TOKEN=TOKEN))
    said = " ".join((done.stdout + done.stderr).split())
    assert done.returncode == 1, said
    assert (f"not counted: the broker's verification results of shop under version {commit} (the git checkout's "
            f"commit), which names no code of it: {why(local_base)}") in said, said
    assert "Traceback" not in said
