"""A failed test's service log lines: those stamped right after the previous test ended are shown apart."""

from __future__ import annotations

from datetime import UTC, datetime

from harness.pytest import _LOG_SETTLE, _epoch, _lines_of_test


def stamp(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "123Z"


class FakeService:
    name = "api"

    def __init__(self, lines: list[tuple[float, str]]) -> None:
        self.lines = lines

    def logs(self, since: float | None = None, tail: int | None = None, timestamps: bool = False) -> str:
        kept = [(at, text) for at, text in self.lines if since is None or at >= since]
        return "".join(f"{stamp(at)} {text}\n" if timestamps else f"{text}\n" for at, text in kept)


ENDED = 1_800_000_000.0  # the previous test's end


def test_a_line_stamped_just_after_the_previous_test_is_shown_apart_as_maybe_its_own() -> None:
    service = FakeService([(ENDED + 0.01, "GET /first"), (ENDED + _LOG_SETTLE + 0.01, "GET /second")])
    text = _lines_of_test(service, since=ENDED + 0.005, previous=("test_a.py::test_one", ENDED))
    assert text == ("[stamped within 0.15 s of the end of test_a.py::test_one: these lines may be its or this test's]\n"
                    "GET /first\n[this test's lines]\nGET /second\n")


def test_without_early_lines_the_log_is_the_tests_own_and_unstamped() -> None:
    service = FakeService([(ENDED + _LOG_SETTLE + 0.2, "GET /second")])
    assert _lines_of_test(service, since=ENDED + 0.005, previous=("test_a.py::test_one", ENDED)) == "GET /second\n"


def test_the_first_test_and_a_test_that_started_late_read_the_log_as_it_is() -> None:
    service = FakeService([(ENDED + 1, "GET /x")])
    assert _lines_of_test(service, since=ENDED + 0.5, previous=None) == "GET /x\n"
    assert _lines_of_test(service, since=ENDED + _LOG_SETTLE, previous=("t::one", ENDED)) == "GET /x\n"


def test_an_unreadable_log_is_said_as_it_is() -> None:
    class Gone(FakeService):
        def logs(self, since: float | None = None, tail: int | None = None, timestamps: bool = False) -> str:
            raise RuntimeError("engine went away")

    text = _lines_of_test(Gone([]), since=ENDED + 0.01, previous=("t::one", ENDED))
    assert text == "(log of api unavailable: RuntimeError: engine went away)"


def test_docker_time_stamps_are_read_with_their_zone() -> None:
    assert _epoch("2026-11-29T17:35:26.123456789Z") == datetime(2026, 11, 29, 17, 35, 26, 123456, UTC).timestamp()
    assert _epoch("2026-11-29T18:35:26+01:00") == datetime(2026, 11, 29, 17, 35, 26, tzinfo=UTC).timestamp()
    assert _epoch("(log") is None


class SilentEngine:
    """A service whose engine's machine went away: the read waits out docker-py's timeout (trial t27b: 60 s for each
    service of the run)."""

    name = "postgres"

    def logs(self, since: float | None = None, tail: int | None = None, timestamps: bool = False) -> str:
        import requests

        raise requests.exceptions.ReadTimeout("HTTPConnectionPool(host='10.250.80.12', port=2375): Read timed out.")


def test_a_log_the_engine_did_not_answer_for_is_known_so_the_other_services_are_not_asked() -> None:
    from harness.pytest import _UNANSWERED

    text = _lines_of_test(SilentEngine(), since=ENDED, previous=None)
    assert text.startswith("(log of postgres unavailable: ReadTimeout"), text
    assert _UNANSWERED.search(text)
    assert not _UNANSWERED.search("(log of postgres unavailable: its container is gone)")
