"""Policy validation: the shipped file loads; every way of breaking it is one actionable line."""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from sop.errors import PolicyError
from sop.policy import (
    BACKCHANNEL_KINDS,
    DEFAULT_POLICY_PATH,
    GREEN_ACTIONS,
    RECOVERY_STEPS,
    RED_ACTIONS,
    load_policy,
    parse_policy,
)

WHERE = "sop/offline-emergency.yaml"
SHIPPED: dict[str, Any] = yaml.safe_load(DEFAULT_POLICY_PATH.read_text(encoding="utf-8"))

Path_ = tuple[str | int, ...]


def dotted(path: Path_) -> str:
    """The field name the policy errors use: ``a.b[2].c``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def leaves(node: Any, path: Path_ = ()) -> Iterator[tuple[Path_, Any]]:
    """Every key path of the shipped file (mappings and list items), with its value."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield (*path, key), value
            yield from leaves(value, (*path, key))
    elif isinstance(node, list) and all(isinstance(item, dict) for item in node):
        for index, item in enumerate(node):
            yield from leaves(item, (*path, index))


def mutated(path: Path_, value: Any = None, *, delete: bool = False) -> str:
    """The shipped policy as YAML text with ``path`` set to ``value`` (or deleted)."""
    data = copy.deepcopy(SHIPPED)
    node = data
    for part in path[:-1]:
        node = node[part]
    if delete:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


def rejection(text: str) -> str:
    """The message parse_policy rejects ``text`` with; asserts it is one line naming the file."""
    with pytest.raises(PolicyError) as caught:
        parse_policy(text, where=WHERE)
    message = str(caught.value)
    assert "\n" not in message, message
    assert message.startswith(f"{WHERE}: "), message
    return message


MAPPING_KEYS = [path for path, _ in leaves(SHIPPED) if not isinstance(path[-1], int)]
NUMBERS = [path for path, value in leaves(SHIPPED) if type(value) in (int, float)]
DURATIONS = [path for path in NUMBERS if str(path[-1]).endswith(("_minutes", "_seconds"))]


# --- the shipped policy -------------------------------------------------------------------


def test_the_shipped_policy_loads_and_keeps_the_sop_order():
    policy = load_policy()
    assert [c.kind for c in policy.backchannels] == list(BACKCHANNEL_KINDS)
    assert [c.priority for c in policy.backchannels] == [1, 2, 3]
    assert policy.red_names() == frozenset(RED_ACTIONS)
    assert policy.green_names() == frozenset(GREEN_ACTIONS)
    assert policy.recovery_steps == RECOVERY_STEPS
    assert len(policy.digest) == 64


def test_the_alert_renders_host_and_reason_after_the_police_light():
    alert = load_policy().render_alert(host="ops-1", reason="timeout")
    assert alert.startswith("\N{POLICE CARS REVOLVING LIGHT} CRITICAL: Dispatcher Unresponsive.")
    assert "Host: ops-1. Reason: timeout." in alert


def test_asking_for_a_backchannel_kind_the_policy_lacks_is_a_policy_error():
    with pytest.raises(PolicyError, match="no backchannel of kind 'carrier_pigeon'"):
        load_policy().backchannel("carrier_pigeon")


def test_an_unreadable_policy_file_names_the_path(tmp_path: Path):
    missing = tmp_path / "nowhere.yaml"
    with pytest.raises(PolicyError, match=re.escape(f"{missing}: cannot read the policy file")):
        load_policy(missing)


def test_a_policy_file_is_named_by_its_path_in_errors(tmp_path: Path):
    target = tmp_path / "policy.yaml"
    target.write_text(mutated(("scenario_b", "rate_limited_minutes"), -3), encoding="utf-8")
    with pytest.raises(PolicyError) as caught:
        load_policy(target)
    assert str(caught.value) == (
        f"{target}: scenario_b.rate_limited_minutes: expected a positive number, got -3"
    )


# --- missing, unknown, renamed ------------------------------------------------------------


@pytest.mark.parametrize("path", MAPPING_KEYS, ids=dotted)
def test_every_field_is_required(path: Path_):
    message = rejection(mutated(path, delete=True))
    assert message == f"{WHERE}: {dotted(path)}: missing; it is required"


@pytest.mark.parametrize(
    "parent",
    [(), ("scenario_a",), ("rto",), ("latency",), ("deployment",), ("backchannels", 0)],
    ids=dotted,
)
def test_an_unknown_field_is_refused(parent: Path_):
    message = rejection(mutated((*parent, "surprise"), 1))
    assert message == f"{WHERE}: {dotted((*parent, 'surprise'))}: unknown field, got 'surprise'"


@pytest.mark.parametrize("path", DURATIONS, ids=dotted)
def test_a_duration_without_its_unit_is_refused(path: Path_):
    # "silence: 15" could be seconds or minutes; only keys naming their unit are read.
    data_path = (*path[:-1], re.sub(r"_(minutes|seconds)$", "", str(path[-1])))
    text = mutated(path, delete=True)
    data = yaml.safe_load(text)
    node = data
    for part in data_path[:-1]:
        node = node[part]
    node[data_path[-1]] = 15
    message = rejection(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
    assert message == f"{WHERE}: {dotted(path)}: missing; it is required"


# --- bad values ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", NUMBERS, ids=dotted)
@pytest.mark.parametrize("value", [-3, 0, -0.5])
def test_thresholds_must_be_positive(path: Path_, value: float):
    message = rejection(mutated(path, value))
    assert re.fullmatch(
        rf"{re.escape(WHERE)}: {re.escape(dotted(path))}: expected a positive "
        rf"(number|integer), got {re.escape(repr(value))}",
        message,
    ), message


@given(
    st.sampled_from(NUMBERS),
    st.one_of(
        st.integers(max_value=0),
        st.floats(max_value=0, allow_nan=False),
        st.just(math.nan),
        st.just(math.inf),
        st.booleans(),
        st.none(),
        st.text(max_size=10),
        st.lists(st.integers(), max_size=2),
    ),
)
def test_any_non_positive_or_non_number_names_field_and_value(path: Path_, value: Any):
    text = mutated(path, value)
    message = rejection(text)
    assert message.startswith(f"{WHERE}: {dotted(path)}: expected a positive "), message
    # The value as the file reads back: YAML folds a NEL ("\x85") in a plain scalar to a space.
    node = yaml.safe_load(text)
    for part in path:
        node = node[part]
    assert message.endswith(f", got {node!r}"), message


@pytest.mark.parametrize(
    ("path", "value", "why"),
    [
        (("green_list", "rotate_logs", "disk_usage_percent_above"), 101, "expected at most 100"),
        (("green_list", "kill_runaway", "cpu_percent_above"), 180, "expected at most 100"),
        (("green_list", "security_patch", "cvss_above"), 11, "expected at most 10"),
        (("scenario_a", "api_failures"), 2.5, "expected a positive integer"),
        (("scenario_a", "process_check_when_co_located"), "yes please", "expected true or false"),
        (("green_list", "security_patch", "requires_active_exploit"), 1, "expected true or false"),
        (("scenario_b", "signals"), [], "expected a non-empty list of strings"),
        (("scenario_b", "signals"), ["429", "429"], "expected no duplicates"),
        (("version",), "  ", "expected a non-empty string"),
        (("backchannels",), [], "expected a non-empty list"),
    ],
)
def test_bad_values_name_field_value_and_why(path: Path_, value: Any, why: str):
    assert rejection(mutated(path, value)) == f"{WHERE}: {dotted(path)}: {why}, got {value!r}"


@pytest.mark.parametrize(
    ("path", "value", "field", "why"),
    [
        (
            ("green_list", "reboot_host"),
            {"when": "always"},
            "green_list.reboot_host",
            "unknown action; not on the SOP's green list",
        ),
        (
            ("red_list", 0, "name"),
            "launch_rockets",
            "red_list[0].name",
            f"unknown action; expected one of {list(RED_ACTIONS)}",
        ),
        (
            ("green_list", "restart_service", "when_states"),
            ["down", "sleepy"],
            "green_list.restart_service.when_states[1]",
            "unknown; expected one of ['down', 'degraded']",
        ),
        (
            ("recovery_steps",),
            ["stop_autonomous_actions", "celebrate"],
            "recovery_steps[1]",
            f"unknown; expected one of {list(RECOVERY_STEPS)}",
        ),
        (
            ("backchannels", 1, "kind"),
            "carrier_pigeon",
            "backchannels[1].kind",
            f"unknown; expected one of {list(BACKCHANNEL_KINDS)}",
        ),
    ],
)
def test_unknown_actions_and_names_are_refused(path: Path_, value: Any, field: str, why: str):
    # The error quotes the offending name: the key, or the bad item of a list.
    got = path[-1] if isinstance(value, dict) else value[-1] if isinstance(value, list) else value
    assert rejection(mutated(path, value)) == f"{WHERE}: {field}: {why}, got {got!r}"


def test_recovery_steps_out_of_the_sop_order_are_refused():
    steps = list(reversed(RECOVERY_STEPS))
    message = rejection(mutated(("recovery_steps",), steps))
    assert message.startswith(f"{WHERE}: recovery_steps: expected the SOP 5 order "), message
    assert message.endswith(f"got {tuple(steps)!r}")


def test_a_red_list_missing_a_category_is_refused():
    text = mutated(("red_list",), SHIPPED["red_list"][:3])
    assert rejection(text) == (
        f"{WHERE}: red_list: expected each of {list(RED_ACTIONS)} once, "
        f"got {[item['name'] for item in SHIPPED['red_list'][:3]]!r}"
    )


def test_a_backchannel_twice_is_refused():
    channels = [SHIPPED["backchannels"][0], *SHIPPED["backchannels"]]
    message = rejection(mutated(("backchannels",), channels))
    assert message.startswith(f"{WHERE}: backchannels: expected each of "), message


# --- the alert template -------------------------------------------------------------------


TEMPLATE = SHIPPED["alert_template"]


@pytest.mark.parametrize(
    ("template", "why"),
    [
        (TEMPLATE.replace("{host}", "[Hostname]"), "expected the {host} and {reason} placeholders"),
        (TEMPLATE.replace("{reason}", "[Error]"), "expected the {host} and {reason} placeholders"),
        # The SOP file's mojibake must not leak into the alert 0x01 receives.
        (TEMPLATE.replace("\N{POLICE CARS REVOLVING LIGHT}", "üö®"), "expected the SOP's U+1F6A8"),
        (TEMPLATE.removeprefix("\N{POLICE CARS REVOLVING LIGHT} "), "expected the SOP's U+1F6A8"),
    ],
)
def test_a_wrong_alert_template_is_refused(template: str, why: str):
    message = rejection(mutated(("alert_template",), template))
    assert message.startswith(f"{WHERE}: alert_template: {why}"), message


RESOLUTION = SHIPPED["resolution_template"]


@pytest.mark.parametrize(
    ("template", "why"),
    [
        (RESOLUTION.replace("{host}", "[Hostname]"), "expected the {host} and {integrity}"),
        (RESOLUTION.replace("{integrity}", "ok"), "expected the {host} and {integrity}"),
        # Told from the alert by its opening words: one that opens like it would be counted
        # as a second alert by the checker.
        (TEMPLATE.replace("{reason}", "{integrity}"), "expected opening words of its own"),
        ("{host}: {integrity}", "expected opening words of its own"),
    ],
)
def test_a_wrong_resolution_template_is_refused(template: str, why: str):
    message = rejection(mutated(("resolution_template",), template))
    assert message.startswith(f"{WHERE}: resolution_template: {why}"), message


def test_the_resolution_names_host_and_integrity_check_and_is_no_alert():
    policy = load_policy()
    text = policy.render_resolution(host="ops-1", integrity="ok")
    assert text.startswith("RESOLVED: Dispatcher reachable again. Emergency SOP closed.")
    assert "Host: ops-1." in text
    assert "integrity check ok." in text
    assert policy.is_resolution(text)
    assert not policy.is_alert(text)
    assert not policy.is_resolution(policy.render_alert("ops-1", "timeout"))


# --- not YAML, not a mapping --------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("scenario_a: [1,\nversion: 2\n", rf"{re.escape(WHERE)}: line \d+: not valid YAML \(.+\)"),
        ('version: "\\x"\n', rf"{re.escape(WHERE)}: line 1: not valid YAML \(.+\)"),
        ("", rf"{re.escape(WHERE)}: \(top level\): expected a mapping, got None"),
        ("- a\n- b\n", rf"{re.escape(WHERE)}: \(top level\): expected a mapping, got \['a', 'b'\]"),
    ],
)
def test_broken_yaml_is_one_line_with_its_position(text: str, expected: str):
    assert re.fullmatch(expected, rejection(text))


#: What the YAML reader accepts at all; control characters are the case below.
yaml_text = st.text(
    st.one_of(
        st.characters(blacklist_categories=("Cc", "Cs", "Cn", "Co")), st.sampled_from("\n\t ")
    ),
    max_size=40,
)


@given(yaml_text)
def test_no_text_crashes_the_loader_with_anything_but_a_policy_error(text: str):
    # Fail closed: whatever the file holds, the loader answers a Policy or one PolicyError.
    rejection(text)


def test_a_control_character_is_one_line_with_its_position():
    message = rejection("version: 1\x1f\n")
    assert re.fullmatch(rf"{re.escape(WHERE)}: line 1: not valid YAML \(.+\)", message)


# --- escalation and severity (emergency-procedures.md, cell0, gate4) ----------------------


def test_a_severity_outside_p0_to_p3_is_refused():
    message = rejection(mutated(("severity", "ollama_down"), "SEV-1"))
    assert message == (
        f"{WHERE}: severity.ollama_down: expected one of ['P0', 'P1', 'P2', 'P3'], got 'SEV-1'"
    )


def test_severity_of_reads_the_table_and_refuses_an_unknown_kind():
    policy = load_policy()
    assert policy.severity_of("data_corruption") == "P0"  # cell0 "P0 - Data Corruption"
    assert policy.severity_of("ollama_down") == "P1"
    with pytest.raises(PolicyError, match="no level for incident kind 'meteor'"):
        policy.severity_of("meteor")


def test_the_slow_inference_bound_is_cell0s_five_sop_seconds():
    latency = load_policy().latency
    assert latency.slow_inference_seconds == 5  # cell0 "API latency > 5 seconds"
    assert latency.slow_inference_minutes == pytest.approx(5 / 60)


@pytest.mark.parametrize("seconds", [30, 45.5])
def test_a_slow_inference_bound_at_or_past_the_checks_timeout_is_refused(seconds: float):
    # The health check times out at deployment.api_probe_timeout_minutes (0.5 = 30 SOP s):
    # a bound there could never be met by an answer.
    message = rejection(mutated(("latency", "slow_inference_seconds"), seconds))
    assert message == (
        f"{WHERE}: latency.slow_inference_seconds: expected below the health check's timeout "
        f"(deployment.api_probe_timeout_minutes: 30 SOP seconds), got {float(seconds)!r}"
    )


def test_the_network_latency_bound_is_cell0s_five_sop_seconds_below_the_probe_timeout():
    # emergency-procedures.md P2 "network latency", cell0 "API latency > 5 seconds".
    policy = load_policy()
    assert policy.latency.network_latency_seconds == 5
    assert policy.latency.bound_seconds("network_latency") == 5
    assert policy.deployment.api_probe_timeout_minutes > 5 / 60  # the P2 is reachable


def test_a_network_latency_bound_at_the_probe_timeout_is_refused():
    message = rejection(mutated(("latency", "network_latency_seconds"), 30))
    assert message == (
        f"{WHERE}: latency.network_latency_seconds: expected below the Dispatcher probe's "
        "timeout (deployment.api_probe_timeout_minutes: 30 SOP seconds), got 30.0"
    )


def test_an_alert_is_told_from_other_messages_by_the_template():
    policy = load_policy()
    assert policy.is_alert(policy.render_alert("ops", "timeout"))
    assert not policy.is_alert("ESCALATION (P1): ollama_down unresolved")
