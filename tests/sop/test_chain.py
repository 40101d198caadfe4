"""The emergency log's hash chain: every single edit of a line is caught, at that line."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from sop.chain import GENESIS, chain_entry, entry_hash, verify_chain
from sop.errors import ChainError
from sop.wire import canonical_json

# Floats are left out on purpose: "1e+16" and "1e016" are one number, so a character
# change there can leave the content (and rightly the hash) unchanged.
scalars = st.one_of(st.none(), st.booleans(), st.integers(-(10**6), 10**6), st.text(max_size=12))
keys = st.sampled_from(["kind", "action", "target", "outcome", "mode", "é", "data"])
values = st.one_of(
    scalars, st.lists(scalars, max_size=2), st.dictionaries(keys, scalars, max_size=2)
)
fields = st.dictionaries(keys, values, max_size=3)


def build(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A well-formed chain holding ``items`` in order."""
    entries: list[dict[str, Any]] = []
    for item in items:
        entries.append(chain_entry(entries[-1] if entries else None, item))
    return entries


def lines_of(entries: list[dict[str, Any]]) -> list[str]:
    """The JSON lines an emergency log file holds."""
    return [canonical_json(entry).decode() for entry in entries]


chains = st.lists(fields, min_size=1, max_size=8).map(build)


def broken_at(lines: list[str]) -> int:
    """The 1-based line verify_chain names; fails the test when it verifies."""
    with pytest.raises(ChainError) as caught:
        verify_chain(lines)
    error = caught.value
    assert error.line is not None
    assert f"line {error.line}:" in str(error)
    return error.line


@given(chains)
def test_a_well_formed_chain_verifies_to_its_entries(entries):
    assert verify_chain(lines_of(entries)) == entries
    assert verify_chain(entries) == entries  # already-parsed mappings work the same


def test_the_first_entry_starts_at_genesis_and_hashes_cover_everything_but_hash():
    first = chain_entry(None, {"kind": "marker", "trigger": "scenario_a"})
    second = chain_entry(first, {"kind": "state", "mode": "offline"})
    assert (first["seq"], first["prev"]) == (0, GENESIS)
    assert (second["seq"], second["prev"]) == (1, first["hash"])
    assert first["hash"] == entry_hash(first) == entry_hash({**first, "hash": "anything"})
    assert entry_hash({**first, "kind": "incident"}) != first["hash"]


@pytest.mark.parametrize("reserved", ["seq", "prev", "hash"])
def test_chain_fields_cannot_be_smuggled_in(reserved: str):
    with pytest.raises(ChainError, match=f"field '{reserved}' is reserved"):
        chain_entry(None, {reserved: 7})


@given(chains, st.data())
def test_any_single_character_change_is_caught_at_its_line(entries, data):
    lines = lines_of(entries)
    index = data.draw(st.integers(0, len(lines) - 1))
    line = lines[index]
    position = data.draw(st.integers(0, len(line) - 1))
    replacement = data.draw(st.characters(codec="utf-8"))
    assume(replacement != line[position])
    tampered = [*lines]
    tampered[index] = line[:position] + replacement + line[position + 1 :]
    try:
        same = json.loads(tampered[index]) == entries[index]
    except json.JSONDecodeError:
        same = False
    # A change JSON cannot see (an escape of the same character) is not a change.
    assume(not same)
    assert broken_at(tampered) == index + 1


@given(chains, st.data())
def test_dropping_an_entry_is_caught_at_the_gap(entries, data):
    assume(len(entries) >= 2)
    index = data.draw(st.integers(0, len(entries) - 2))
    lines = lines_of(entries)
    del lines[index]
    assert broken_at(lines) == index + 1


@given(chains, st.data())
def test_swapping_two_entries_is_caught_at_the_first(entries, data):
    assume(len(entries) >= 2)
    i, j = sorted(
        data.draw(st.lists(st.integers(0, len(entries) - 1), min_size=2, max_size=2, unique=True))
    )
    lines = lines_of(entries)
    lines[i], lines[j] = lines[j], lines[i]
    assert broken_at(lines) == i + 1


@given(chains, fields, st.data())
def test_inserting_a_well_chained_forgery_is_caught_at_the_next_line(entries, forged, data):
    index = data.draw(st.integers(0, len(entries) - 1))
    # The forger computes a perfect entry for position ``index``; the original entry
    # that used to be there no longer follows it.
    forgery = chain_entry(entries[index - 1] if index else None, forged)
    lines = lines_of(entries)
    lines.insert(index, canonical_json(forgery).decode())
    assert broken_at(lines) == index + 2


@given(chains, st.data())
def test_inserting_a_copy_of_an_entry_is_caught_where_it_lands(entries, data):
    index = data.draw(st.integers(0, len(entries)))
    copied = data.draw(st.sampled_from(entries))
    lines = lines_of(entries)
    lines.insert(index, canonical_json(copied).decode())
    # A copy of the very entry that belongs there is fine; its displaced original is not.
    assert broken_at(lines) == (index + 2 if entries[index : index + 1] == [copied] else index + 1)


@given(chains, fields, st.data())
def test_rewriting_an_entry_with_a_fresh_hash_is_caught_at_the_next_line(entries, forged, data):
    assume(len(entries) >= 2)
    index = data.draw(st.integers(0, len(entries) - 2))
    # Self-consistent (right seq, prev and hash), but its successor's prev no longer fits.
    rewritten = chain_entry(entries[index - 1] if index else None, forged)
    assume(rewritten != entries[index])
    lines = lines_of(entries)
    lines[index] = canonical_json(rewritten).decode()
    assert broken_at(lines) == index + 2


def test_truncation_and_appending_verify_and_need_the_known_head():
    # A hash chain alone cannot see its tail cut off or extended by someone who can
    # write the file: that is what the dispatcher's acknowledged seq and head are for.
    entries = build([{"kind": "marker"}, {"kind": "state"}, {"kind": "decision"}])
    assert verify_chain(lines_of(entries[:2])) == entries[:2]
    longer = [*entries, chain_entry(entries[-1], {"kind": "incident"})]
    assert verify_chain(lines_of(longer))[-2]["hash"] == entries[-1]["hash"]


FIRST = chain_entry(None, {"kind": "marker"})
AFTER_FIRST = '"prev": "' + FIRST["hash"] + '", "hash": "x"'


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ("{not json", "not JSON"),
        ("[1, 2]", "not a chained entry"),
        ('{"seq": 1, "prev": "' + FIRST["hash"] + '"}', "not a chained entry"),
        ('{"seq": true, ' + AFTER_FIRST + "}", "seq True, expected 1"),
        ('{"seq": 1.0, ' + AFTER_FIRST + "}", "seq 1.0, expected 1"),
        ('{"seq": 2, ' + AFTER_FIRST + "}", "seq 2, expected 1"),
        ('{"seq": 1, "prev": "' + GENESIS + '", "hash": "x"}', "prev does not match"),
        ('{"seq": 1, ' + AFTER_FIRST + ', "k": "\\ud800"}', "not valid Unicode"),
        ('{"seq": 1, ' + AFTER_FIRST + "}", "hash does not match its content"),
    ],
)
def test_malformed_lines_are_chain_errors_naming_the_line(line: str, why: str):
    # The blank line is skipped but still counted: line numbers are the file's.
    lines = [*lines_of([FIRST]), "", line]
    with pytest.raises(ChainError, match=why) as caught:
        verify_chain(lines, where="ops/emergency.log")
    assert caught.value.line == 3
    assert str(caught.value).startswith("ops/emergency.log: line 3: ")


def test_a_true_seq_is_not_the_integer_one():
    # json: true == 1 in Python; the chain must not accept a seq of the wrong type.
    first = chain_entry(None, {"kind": "marker"})
    second = {"seq": True, "kind": "state", "prev": first["hash"]}
    second["hash"] = entry_hash(second)
    assert broken_at(lines_of([first, second])) == 2
