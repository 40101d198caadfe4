"""Gitea's binding of issue options, and the issue book: numbering, the file, a refused write."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sop.errors import ServiceConfigError
from sut.standins.gitea_issues import (
    CREATE_OPTION,
    EDIT_OPTION,
    INT64,
    IssueBook,
    OptionError,
    atoi,
    bind_form,
    bind_json,
    open_book,
    rfc3339,
)

CONTENT: dict[str, Any] = {
    "title": "t",
    "body": "",
    "ref": "",
    "poster": "ops-agent",
    "assignees": (),
}


@pytest.mark.parametrize(
    "body",
    [
        {"title": 5},
        {"title": ["t"]},
        {"assignees": "ops-agent"},
        {"assignees": [1]},
        {"labels": ["bug"]},
        {"milestone": 1.5},
        {"milestone": 2**63},
        {"milestone": True},
        {"closed": "yes"},
        {"due_date": 1},
        {"due_date": "tomorrow"},
        {"due_date": "2026-01-02"},
        {"due_date": "9999-12-31T23:59:59-14:00"},  # past the year 9999 once in UTC
    ],
)
def test_a_value_of_the_wrong_type_refuses_the_whole_body(body: dict[str, Any]) -> None:
    with pytest.raises(OptionError, match=r"^\[\]: ") as refused:
        bind_json("CreateIssueOption", CREATE_OPTION, {"body": "fine", **body})
    assert refused.value.status == 422


def test_json_keys_match_without_case_and_the_last_one_wins() -> None:
    bound = bind_json("CreateIssueOption", CREATE_OPTION, {"title": "a", "TITLE": "b", "x": 1})
    assert bound == {"title": "b"}, "an unknown field is ignored"


def test_a_null_leaves_a_value_but_unsets_a_pointer() -> None:
    created = bind_json("CreateIssueOption", CREATE_OPTION, {"body": "kept", "Body": None})
    assert created == {"body": "kept"}
    edited = bind_json("EditIssueOption", EDIT_OPTION, {"body": "gone", "Body": None})
    assert edited == {}
    items = bind_json("CreateIssueOption", CREATE_OPTION, {"assignees": [None], "labels": [None]})
    assert items == {"assignees": [""], "labels": [0]}, "a null item is Go's zero value"


def test_a_due_date_is_an_rfc3339_instant() -> None:
    bound = bind_json("CreateIssueOption", CREATE_OPTION, {"due_date": "2026-01-02T05:04:05+02:00"})
    assert rfc3339(bound["due_date"]) == "2026-01-02T03:04:05Z"


def test_a_form_names_fields_after_go_and_cannot_give_a_time() -> None:
    pairs = [("title", "a"), ("title", "b"), ("closed", "on"), ("due_date", "x"), ("deadline", "x")]
    assert bind_form(CREATE_OPTION, pairs) == {"title": "a", "closed": True}
    edit = bind_form(EDIT_OPTION, [("remove_deadline", "true"), ("unset_due_date", "false")])
    assert edit == {"unset_due_date": True}
    assert bind_form(CREATE_OPTION, [("labels", "1"), ("labels", ""), ("milestone", "")]) == {
        "labels": [1, 0],
        "milestone": 0,
    }


@pytest.mark.parametrize(
    ("pairs", "message"),
    [
        ([("closed", "yes")], "[Closed]: Value could not be parsed as boolean"),
        ([("milestone", "1.5")], "[Milestone]: Value could not be parsed as integer"),
        ([("labels", str(2**63))], "[Labels]: Value could not be parsed as integer"),
    ],
)
def test_a_form_value_go_cannot_parse_is_named(pairs: list[tuple[str, str]], message: str) -> None:
    with pytest.raises(OptionError) as refused:
        bind_form(CREATE_OPTION, pairs)
    assert str(refused.value) == message


@given(st.text() | st.integers().map(str))
def test_atoi_takes_what_strconv_takes_and_answers_at_once(text: str) -> None:
    number = atoi(text)
    assert number is None or (number in INT64 and int(text) == number)


def test_numbers_count_per_repository_and_ids_across_the_book() -> None:
    book = IssueBook()
    made = [book.open(repo, 100, **CONTENT) for repo in ("a/x", "a/y", "a/x")]
    assert [(i.repo, i.number, i.id) for i in made] == [("a/x", 1, 1), ("a/y", 1, 2), ("a/x", 2, 3)]
    book.edit(made[0], closed_unix=200)
    assert [i.number for i in book.listing("a/x", "all")] == [2, 1]
    assert [i.number for i in book.listing("a/x", "open")] == [2]
    assert book.count_open("a/x") == 1


def test_a_book_reads_back_what_it_wrote(tmp_path: Path) -> None:
    first = IssueBook(tmp_path / "issues.json")
    issue = first.open("ops/incidents", 100, **{**CONTENT, "assignees": ("ops-agent",)})
    edited = first.edit(issue, title="renamed", deadline_unix=-62135596800)  # year 1
    second = IssueBook(tmp_path / "issues.json")
    assert second.get("ops/incidents", 1) == edited
    assert second.open("ops/incidents", 300, **CONTENT).number == 2


def test_a_write_the_disk_refuses_changes_nothing_and_leaves_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    book = IssueBook(tmp_path / "issues.json")
    stored = book.open("ops/incidents", 100, **CONTENT)

    def full_disk(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", full_disk)
    with pytest.raises(OSError, match="No space"):
        book.open("ops/incidents", 200, **CONTENT)
    with pytest.raises(OSError, match="No space"):
        book.edit(stored, title="lost")
    monkeypatch.undo()
    assert book.listing("ops/incidents", "all") == [stored]
    assert IssueBook(tmp_path / "issues.json").listing("ops/incidents", "all") == [stored]
    assert [p.name for p in tmp_path.iterdir()] == ["issues.json"]


@pytest.mark.parametrize(
    "stored",
    [
        "not json",
        "[]",
        '{"issues": [{"id": 1}]}',
        json.dumps({"issues": [{**CONTENT, "assignees": "x"}]}),
        json.dumps(
            {
                "issues": [
                    {
                        **CONTENT,
                        "id": 1,
                        "repo": "a/b",
                        "number": 1,
                        "assignees": [],
                        "created_unix": 10**12,  # past the year 9999
                        "updated_unix": 0,
                        "closed_unix": None,
                        "deadline_unix": None,
                    }
                ]
            }
        ),
    ],
)
def test_a_damaged_issue_file_is_refused_at_start_naming_it(tmp_path: Path, stored: str) -> None:
    (tmp_path / "issues.json").write_text(stored)
    with pytest.raises(ServiceConfigError, match=r"issues\.json is no issue file of this stand-in"):
        open_book(str(tmp_path))


def test_a_data_path_that_is_no_directory_is_refused_at_start(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(ServiceConfigError, match="SOPDRILL_GITEA_DATA: cannot use"):
        open_book(str(tmp_path / "file"))
