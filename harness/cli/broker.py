"""The Pact Broker commands: publish (the pact folder's pacts), can-i-deploy (every service of the topology to an
environment) and record-deployment. Each takes the resolved options and the two consoles, and returns its exit
code."""

from __future__ import annotations

from rich.console import Console

from harness.cli.topologies import load
from harness.contracts.broker_config import BrokerConfig, broker_access
from harness.errors import OptionError
from harness.model.topology import TopologySpec
from harness.options import ResolvedOptions


def _config(options: ResolvedOptions, spec: TopologySpec | None, command: str) -> BrokerConfig:
    config = broker_access(options.values, spec.contracts.broker if spec is not None else None)
    if config is None:
        raise OptionError(f"harness {command}: no Pact Broker is configured: give --pact-broker-url URL, "
                          "contracts.broker.url in the topology file, or set PACT_BROKER_BASE_URL (and "
                          "PACT_BROKER_TOKEN, or PACT_BROKER_USERNAME and PACT_BROKER_PASSWORD)")
    return config


def _publish(options: ResolvedOptions, out: Console, err: Console) -> int:
    from harness.contracts.publish import consumer_version, pact_files, publish_pacts
    from harness.contracts.run import pact_folder
    from harness.report.broker import print_publication

    if not options.topology.files and options.pacts is None:
        raise OptionError("harness publish: name the pacts: --pacts DIR, or --topology FILE for its pact folder "
                          "(contracts.pacts)")
    spec = load(options, err, notes=False) if options.topology.files else None
    folder = options.pacts if spec is None else pact_folder(spec, options.pacts)
    config = _config(options, spec, "publish")
    files = pact_files(folder)
    version = consumer_version(folder, options.consumer_version, options.consumer_branch,
                               tuple(options.consumer_tag or ()), written_here=False, pacts=files)
    print_publication(publish_pacts(config, files, version), config.url, out)
    return 0


def _topology_and_versions(options: ResolvedOptions, err: Console, command: str, environment: str | None,
                           flag: str) -> tuple[TopologySpec, BrokerConfig, dict[str, str], str]:
    from harness.contracts.deploy import service_versions

    if not environment:
        raise OptionError(f"harness {command}: name the environment: {flag} ENVIRONMENT (as the Pact Broker names "
                          "it, e.g. production)")
    spec = load(options, err, notes=False)
    config = _config(options, spec, command)
    versions = service_versions(spec, options.service_version or [], tuple(options.ignore_service or ()))
    return spec, config, versions, environment


def _can_i_deploy(options: ResolvedOptions, out: Console, err: Console) -> int:
    from harness.contracts.deploy import can_i_deploy, local_bases
    from harness.report.broker import deploy_matrix

    spec, config, versions, environment = _topology_and_versions(options, err, "can-i-deploy",
                                                                 options.to_environment, "--to-environment")
    given = [service for service, _ in options.service_version or []]
    check = can_i_deploy(spec, config, versions, environment, tuple(options.ignore_service or ()),
                         local_bases(spec, given))
    out.print(deploy_matrix(check), markup=False, highlight=False, end="", soft_wrap=True)
    return 0 if check.deployable else 1


def _record_deployment(options: ResolvedOptions, out: Console, err: Console) -> int:
    from harness.contracts.deploy import record_deployment
    from harness.report.broker import print_recorded

    spec, config, versions, environment = _topology_and_versions(options, err, "record-deployment",
                                                                 options.environment, "--environment")
    print_recorded(record_deployment(spec, config, versions, environment, tuple(options.ignore_service or ())),
                   environment, out)
    return 0
