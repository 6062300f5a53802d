"""A partial session's pact merged into its file (harness.contracts.consumer.write_pacts): the pact FFI's identity of
an interaction, the harness's order, and the files it cannot merge into."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.contracts.consumer import interaction_identity, write_pacts


def http(description: str, status: int, *states: dict[str, Any]) -> dict[str, Any]:
    return {"type": "Synchronous/HTTP", "description": description, "providerStates": list(states),
            "request": {"method": "GET", "path": "/"}, "response": {"status": status}}


def pact(*interactions: dict[str, Any], version: str = "4.0") -> dict[str, Any]:
    return {"consumer": {"name": "web"}, "provider": {"name": "notes"}, "interactions": list(interactions),
            "metadata": {"pactSpecification": {"version": version}}}


def folders(tmp_path: Path, session: dict[str, Any], existing: str | None) -> tuple[Path, Path]:
    scratch, pacts = tmp_path / "scratch", tmp_path / "pacts"
    scratch.mkdir()
    pacts.mkdir()
    (scratch / "web-notes.json").write_text(json.dumps(session))
    if existing is not None:
        (pacts / "web-notes.json").write_text(existing)
    return scratch, pacts


def statuses(pacts: Path) -> list[tuple[str, int]]:
    data = json.loads((pacts / "web-notes.json").read_text())
    return [(i["description"], i["response"]["status"]) for i in data["interactions"]]


def test_the_identity_is_the_ffis_type_description_and_state_names_not_their_parameters() -> None:
    one = http("a", 200, {"name": "user", "params": {"id": 1}})
    assert interaction_identity(one) == interaction_identity(http("a", 404, {"name": "user", "params": {"id": 2}}))
    assert interaction_identity(one) != interaction_identity(http("a", 200, {"name": "admin"}))
    assert interaction_identity(one) != interaction_identity({**one, "type": "Asynchronous/Messages"})


def test_a_merge_replaces_the_same_interaction_keeps_the_others_in_the_harness_order(tmp_path: Path) -> None:
    old = pact(http("c", 200), http("a", 200, {"name": "s"}), http("a", 200, {"name": "t"}))
    scratch, pacts = folders(tmp_path, pact(http("a", 500, {"name": "s"}), http("b", 201)), json.dumps(old))
    [written] = write_pacts(scratch, pacts, merge=True)
    assert written.merged == "merged: 2 of 4 interactions rewritten, 2 kept from the file"
    assert statuses(pacts) == [("a", 500), ("a", 200), ("b", 201), ("c", 200)]


def test_a_whole_session_replaces_the_file(tmp_path: Path) -> None:
    scratch, pacts = folders(tmp_path, pact(http("b", 201)), json.dumps(pact(http("c", 200))))
    [written] = write_pacts(scratch, pacts)
    assert (written.merged, statuses(pacts)) == ("", [("b", 201)])


def test_a_file_of_another_specification_is_replaced_and_said_an_empty_one_is_new(tmp_path: Path) -> None:
    scratch, pacts = folders(tmp_path, pact(http("b", 201)), json.dumps(pact(http("c", 200), version="3.0.0")))
    [written] = write_pacts(scratch, pacts, merge=True)
    assert (written.merged, written.refused) == (
        "replaced: the file was a pact of specification 3.0.0, this session writes 4.0", "")
    assert statuses(pacts) == [("b", 201)]
    (pacts / "web-notes.json").write_text("\n")  # pact-python writes over an empty file too
    [written] = write_pacts(scratch, pacts, merge=True)
    assert (written.merged, statuses(pacts)) == ("new: 1 interaction(s)", [("b", 201)])


def test_a_file_that_is_no_pact_of_the_pair_is_left_as_it_is_and_said(tmp_path: Path) -> None:
    """pact-python's write_file(overwrite=False) refuses these too (a RuntimeError, the file untouched)."""
    other = pact(http("c", 200))
    other["consumer"] = {"name": "kiosk"}
    for existing, why in [
            ("{not json", "it is not valid JSON (Expecting property name enclosed in double quotes: line 1 column 2 "
                          "(char 1))"),
            ("[]", "it is no pact: a JSON list, not an object"),
            (json.dumps({**pact(), "interactions": "x"}), "it is no pact: its interactions are no list of objects"),
            ("{}", "it is a pact between None and None, not web and notes"),
            (json.dumps(other), "it is a pact between kiosk and notes, not web and notes")]:
        (tmp_path / str(len(why))).mkdir()
        scratch, pacts = folders(tmp_path / str(len(why)), pact(http("b", 201)), existing)
        (scratch / "web-shop.json").write_text(json.dumps({**pact(http("d", 200)), "provider": {"name": "shop"}}))
        notes, shop = write_pacts(scratch, pacts, merge=True)
        assert (notes.path, notes.refused, notes.merged) == (pacts / "web-notes.json", why, "")
        assert (pacts / "web-notes.json").read_text() == existing  # not a byte changed
        assert (shop.refused, shop.merged) == ("", "new: 1 interaction(s)")  # the other pairs are written
        whole = write_pacts(scratch, pacts)[0]  # a whole session replaces the file, as before
        assert (whole.refused, statuses(pacts)) == ("", [("b", 201)])
