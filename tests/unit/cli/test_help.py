"""What `harness --help` and `--version` say is what harness does."""

from __future__ import annotations

from importlib.metadata import version

import pytest

from harness.cli import main
from harness.errors import EXIT_ENVIRONMENT, EXIT_FAILED, ServiceExited, ServiceNotReady


def test_version_names_the_installed_distribution(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out == f"harness (pytest-topology) {version('pytest-topology')}\n"


def test_the_exit_codes_of_the_help_are_those_of_the_errors(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "1 failures found (also a service that exits or never gets ready)" in text
    assert "3 environment (Docker engine, images, builds)" in text
    assert ServiceNotReady.exit_code == ServiceExited.exit_code == EXIT_FAILED != EXIT_ENVIRONMENT
