"""A consumer session that runs only some consumer tests (-k, a node id, --lf, -n 2 with -k) merges its pacts into
the files as pact-python's `write_file(overwrite=False)` does, and says so; a whole session replaces them (a removed
test's interaction goes). Real pytest sessions against pact-python's mock server (no Docker)."""

from __future__ import annotations

import json

import pytest

NOTES = """
import os
import requests

def served(p, method, path, status):
    with p.serve(addr="127.0.0.1") as server:
        assert requests.request(method, f"{server.url}{path}").status_code == status
    assert os.environ.get("F25D_FAIL") != os.environ.get("PYTEST_CURRENT_TEST", "").split("::")[-1].split(" ")[0]

def test_reads(pact):
    p = pact("web", "notes")
    p.upon_receiving("a request for note 1").given("note 1 exists").with_request("GET", "/notes/1")\\
        .will_respond_with(int(os.environ.get("F25D_READ_STATUS", "200")))
    served(p, "GET", "/notes/1", int(os.environ.get("F25D_READ_STATUS", "200")))

def test_creates(pact):
    p = pact("web", "notes")
    p.upon_receiving("a request to create a note").with_request("POST", "/notes").will_respond_with(201)
    served(p, "POST", "/notes", 201)

def test_deletes(pact):
    p = pact("web", "notes")
    p.upon_receiving("a request to delete note 1").given("note 1 exists").with_request("DELETE", "/notes/1")\\
        .will_respond_with(204)
    served(p, "DELETE", "/notes/1", 204)

def test_lists(pact):
    p = pact("web", "notes")
    p.upon_receiving("a request for the notes").with_request("GET", "/notes").will_respond_with(200)
    served(p, "GET", "/notes", 200)
"""

SHOP = """
import requests

def test_teapot(pact):
    p = pact("web", "shop")
    p.upon_receiving("a request for the teapot").with_request("GET", "/teapot").will_respond_with(200)
    with p.serve(addr="127.0.0.1") as server:
        assert requests.get(f"{server.url}/teapot").status_code == 200
"""


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    pytester.makeini("[pytest]\n")  # the rootdir: `pytest` without arguments there runs every test
    pytester.makepyfile(test_notes=NOTES, test_shop=SHOP)
    for name in ("CI", "GITHUB_ACTIONS", "F25D_FAIL", "F25D_READ_STATUS"):
        monkeypatch.delenv(name, raising=False)
    return pytester


def run(project: pytest.Pytester, *args: str, cache: bool = False) -> pytest.RunResult:
    return project.runpytest_subprocess("-q", *([] if cache else ["-p", "no:cacheprovider"]), "--pact-dir", "pacts",
                                        *args)


def notes(project: pytest.Pytester) -> dict[str, int]:
    """The web->notes pact's interactions: description -> response status."""
    data = json.loads((project.path / "pacts" / "web-notes.json").read_text())
    return {i["description"]: i["response"]["status"] for i in data["interactions"]}


def files(project: pytest.Pytester) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted((project.path / "pacts").glob("*.json"))}


ALL = {"a request for note 1": 200, "a request to create a note": 201, "a request to delete note 1": 204,
       "a request for the notes": 200}


def test_a_keyword_session_merges_and_a_whole_one_replaces(project: pytest.Pytester,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    whole = run(project)
    assert whole.ret == 0, whole.stdout.str()
    assert notes(project) == ALL
    assert "merged" not in whole.stdout.str()
    expected = files(project)
    for _ in range(3):  # the same interactions, the same bytes: a partial session that changed nothing changes none
        some = run(project, "-k", "reads")
        assert some.ret == 0, some.stdout.str()
        assert files(project) == expected
    some.stdout.fnmatch_lines(["pacts written: pacts/web-notes.json (merged: 1 of 4 interactions rewritten, 3 kept "
                               "from the file)",
                               "pacts merged into their files, not replaced (as pact-python's write_file does): this "
                               "session did not run every consumer test (4 of 5 collected test(s) deselected (-k "
                               "given)); a session that runs them all replaces them*"])
    monkeypatch.setenv("F25D_READ_STATUS", "203")  # the interaction's content changed: the session's replaces it
    changed = run(project, "-k", "reads")
    assert changed.ret == 0, changed.stdout.str()
    assert notes(project) == {**ALL, "a request for note 1": 203}
    assert files(project)["web-shop.json"] == expected["web-shop.json"]  # a pair it did not touch: not written
    monkeypatch.delenv("F25D_READ_STATUS")
    (project.path / "test_notes.py").write_text(NOTES.replace("def test_lists(", "def _removed("))
    replaced = run(project)  # a whole session: the removed test's interaction goes
    assert replaced.ret == 0, replaced.stdout.str()
    assert notes(project) == {k: v for k, v in ALL.items() if k != "a request for the notes"}
    assert "merged" not in replaced.stdout.str()


def test_a_node_id_session_merges_and_a_failing_tests_old_interaction_stays(project: pytest.Pytester,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    assert run(project).ret == 0
    expected = files(project)
    one = run(project, "test_notes.py::test_deletes")
    assert one.ret == 0, one.stdout.str()
    assert files(project) == expected
    one.stdout.fnmatch_lines(["*(merged: 1 of 4 interactions rewritten, 3 kept from the file)",
                              "*this session did not run every consumer test (node ids given)*"])
    monkeypatch.setenv("F25D_FAIL", "test_deletes")
    failing = run(project, "test_notes.py::test_deletes", "test_notes.py::test_reads")
    assert failing.ret == 1, failing.stdout.str()
    assert files(project) == expected  # the failed test's interaction is not written: the file's stays
    failing.stdout.fnmatch_lines(["*(merged: 1 of 4 interactions rewritten, 3 kept from the file)"])
    whole = run(project)  # a whole session with a failing test: its interaction dropped, as before
    assert whole.ret == 1, whole.stdout.str()
    assert "a request to delete note 1" not in notes(project) and len(notes(project)) == 3


def test_last_failed_merges_the_test_that_failed_once_it_passes(project: pytest.Pytester,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    assert run(project, cache=True).ret == 0
    expected = files(project)
    monkeypatch.setenv("F25D_FAIL", "test_creates")
    assert run(project, cache=True).ret == 1  # a whole session: the failing test's interaction dropped
    assert "a request to create a note" not in notes(project) and len(notes(project)) == 3
    still = run(project, "--lf", cache=True)
    assert still.ret == 1, still.stdout.str()
    assert "a request to create a note" not in notes(project) and len(notes(project)) == 3
    monkeypatch.delenv("F25D_FAIL")
    fixed = run(project, "--lf", cache=True)
    assert fixed.ret == 0, fixed.stdout.str()
    fixed.stdout.fnmatch_lines(["*(merged: 1 of 4 interactions rewritten, 3 kept from the file)",
                                "*--lf ran only the 1 test(s) that failed last time*"])
    assert files(project) == expected


def test_under_xdist_a_partial_session_merges_as_a_serial_one(project: pytest.Pytester) -> None:
    assert run(project).ret == 0
    expected = files(project)
    for _ in range(3):
        some = run(project, "-n", "2", "-k", "reads or deletes or teapot")
        assert some.ret == 0, some.stdout.str()
        assert files(project) == expected
    some.stdout.fnmatch_lines(["pacts written: pacts/web-notes.json (merged: 2 of 4 interactions rewritten, 2 kept "
                               "from the file), pacts/web-shop.json (merged: 1 of 1 interactions rewritten, 0 kept "
                               "from the file)",
                               "*2 of 5 collected test(s) deselected (-k given)*"])
    (project.path / "pacts" / "web-notes.json").unlink()
    new = run(project, "-n", "2", "-k", "reads")
    assert new.ret == 0, new.stdout.str()
    new.stdout.fnmatch_lines(["pacts written: pacts/web-notes.json (new: 1 interaction(s))"])
    assert notes(project) == {"a request for note 1": 200}


def test_a_file_a_partial_session_cannot_merge_into_is_left_as_it_is_and_fails_the_session(
        project: pytest.Pytester) -> None:
    """An unreadable pact file (invalid JSON here) is never replaced by a session that merges: pact-python's
    write_file(overwrite=False) refuses it too (a RuntimeError naming no file); the pairs it can merge are written."""
    assert run(project).ret == 0
    shop = files(project)["web-shop.json"]
    (project.path / "pacts" / "web-notes.json").write_text('{"consumer": {"name": "web"},')
    some = run(project, "-k", "reads or teapot")
    assert some.ret == 1, some.stdout.str()  # its tests passed; the session did not
    assert (project.path / "pacts" / "web-notes.json").read_text() == '{"consumer": {"name": "web"},'
    assert files(project)["web-shop.json"] == shop  # merged: the same interaction, the same bytes
    said = " ".join(some.stdout.str().split())
    assert "2 passed" in said and "pacts written: pacts/web-shop.json (merged: 1 of 1 interactions rewritten" in said
    assert ("ERROR: pacts/web-notes.json not written: this session did not run every consumer test (3 of 5 "
            "collected test(s) deselected (-k given)), so its interactions are merged into the file there, and it is "
            "not valid JSON (Expecting property name enclosed in double quotes: line 1 column 30 (char 29)); the file "
            "is left as it was: delete it (or restore it from git) and run again, or run the whole consumer session "
            "(it replaces the file)") in said, said
    whole = run(project)
    assert whole.ret == 0 and notes(project) == ALL, whole.stdout.str()
