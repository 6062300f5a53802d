"""pytest --pact-publish before any test runs: the Pact Broker is configured and lets the credentials publish pacts
(the publication itself is harness.pytest.pact's, at the end of the session)."""

from __future__ import annotations

import pytest

NO_BROKER = ("--pact-publish: no Pact Broker is configured: give --pact-broker-url URL, contracts.broker.url in the "
             "topology file, or set PACT_BROKER_BASE_URL")


def check_publication(config: pytest.Config) -> None:
    """Before any test runs, when the session's pacts are to be published (publication_wanted): a broker is
    configured and lets the credentials publish pacts (publish.check_publishing_pacts), else a usage error, rather
    than an error line after every consumer test ran. A broker that validates the body first cannot be asked so:
    there the publication at the end tells."""
    from harness.contracts.broker_config import broker_access
    from harness.contracts.publish import check_publishing_pacts
    from harness.errors import BrokerRefused, HarnessError
    from harness.pytest.options import resolved
    from harness.pytest.pact import publication_asked
    from harness.pytest.session import PLUGIN_NAME

    if not publication_asked(config):
        return
    spec = getattr(config.pluginmanager.get_plugin(PLUGIN_NAME), "spec", None)
    try:
        broker = broker_access(resolved(config).values, spec.contracts.broker if spec is not None else None)
        if broker is None:
            raise pytest.UsageError(NO_BROKER)
        check_publishing_pacts(broker)
    except BrokerRefused as error:
        raise pytest.UsageError(f"{error}\npacts are published only when asked (--pact-publish), or in CI (CI=true) "
                                "with --pact-consumer-version") from None
    except HarnessError as error:
        raise pytest.UsageError(f"the session's pacts are to be published, so the Pact Broker was asked first, and no "
                                f"test was run: {error}") from None
