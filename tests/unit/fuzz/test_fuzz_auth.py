"""An auth hook named in the topology that cannot be used is one clear error naming the service, the hook and why."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from harness.errors import EXIT_BAD_INPUT, AuthHookError
from harness.fuzz.auth import resolve_hook


@pytest.fixture
def on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in ("hooks_ok", "hooks_broken", "hooks_value"):
        sys.modules.pop(name, None)


def test_a_hook_that_does_not_import_names_the_service_the_hook_and_the_import_error(on_path: Path) -> None:
    (on_path / "hooks_broken.py").write_text("import no_such_dependency\n")
    with pytest.raises(AuthHookError) as info:
        resolve_hook("api", "hooks_broken:headers")
    message = str(info.value)
    assert "service 'api': auth hook 'hooks_broken:headers' cannot be imported" in message
    assert "ModuleNotFoundError: No module named 'no_such_dependency'" in message
    assert info.value.exit_code == EXIT_BAD_INPUT and info.value.service == "api"


def test_a_hook_that_is_missing_or_not_callable_is_refused(on_path: Path) -> None:
    (on_path / "hooks_value.py").write_text("headers = {'X-Key': 'k'}\n")
    with pytest.raises(AuthHookError, match="module hooks_value has a non-callable dict 'headers'"):
        resolve_hook("api", "hooks_value:headers")
    with pytest.raises(AuthHookError, match="module hooks_value has no attribute 'token'"):
        resolve_hook("api", "hooks_value:token")


def test_a_usable_hook_is_returned(on_path: Path) -> None:
    (on_path / "hooks_ok.py").write_text("def headers(topology):\n    return {'X-Key': 'k'}\n")
    assert resolve_hook("api", "hooks_ok:headers")(None) == {"X-Key": "k"}
