"""Drift check: the policy file says exactly what the SOP documents kept under sop/ say.

Each clause is read out of sop/offline-emergency-sop.md (or sop/emergency-procedures.md,
sop/cell0-incident-runbook.md)
with a regex anchored on the SOP's own words, then compared with the typed policy. A
rewording of a clause fails as loudly as a changed number: "phrase not found" means the
document moved and this check (and probably the policy) must follow it.

The SOP copy is kept byte for byte as it was received, mojibake included: it was UTF-8
decoded as Mac Roman, so "üö®" (after an invisible U+F8FF) is U+1F6A8, and "‚úÖ" and
"‚ùå" are the check and the cross.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

import sop
from sop.observations import GONE_STATES
from sop.policy import Policy, load_policy

SOP_DIR = Path(sop.__file__).parent
SOP_TEXT = (SOP_DIR / "offline-emergency-sop.md").read_text(encoding="utf-8")
PROCEDURES_TEXT = (SOP_DIR / "emergency-procedures.md").read_text(encoding="utf-8")
CELL0_TEXT = (SOP_DIR / "cell0-incident-runbook.md").read_text(encoding="utf-8")

#: SOP headings -> the policy's names for them (the only translation the check makes).
BACKCHANNEL_KINDS = {"Discord": "discord_dm", "Signal": "signal", "Local Log": "local_log"}
GREEN_NAMES = {
    "Service Restarts": "restart_service",
    "Log Rotation/Cleanup": "rotate_logs",
    "Security Patching": "security_patch",
    "Resource Monitoring": "kill_runaway",
}
RED_NAMES = {
    "Code Deployment": "deploy_code",
    "Configuration Changes": "change_config",
    "Data Deletion": "delete_data",
    "Privilege Escalation": "escalate_privilege",
}
RECOVERY_NAMES = {
    "Stop Independent Actions": "stop_autonomous_actions",
    "Report": "upload_emergency_log",
    "Verify": "request_integrity_check",
}


class PhraseMissing(AssertionError):
    """A clause the check anchors on is no longer in the document."""


@dataclass(frozen=True)
class Sources:
    """The documents and the policy that must agree with them."""

    sop: str
    procedures: str
    policy: Policy
    cell0: str = CELL0_TEXT


def repair(mojibake: str) -> str:
    """Undo the SOP file's encoding damage (UTF-8 bytes read as Mac Roman)."""
    return mojibake.encode("mac_roman").decode("utf-8")


def find(text: str, pattern: str, where: str = "offline-emergency-sop.md") -> re.Match[str]:
    """The first match of ``pattern`` (multi-line), or PhraseMissing naming it."""
    match = re.search(pattern, text, re.MULTILINE)
    if match is None:
        raise PhraseMissing(f"sop/{where}: the SOP phrase /{pattern}/ is not there any more")
    return match


def section(text: str, heading: str) -> str:
    """The body of the markdown section whose heading line contains ``heading``."""
    match = find(text, rf"^(#+)[^\n]*{re.escape(heading)}[^\n]*\n")
    level = len(match.group(1))
    rest = text[match.end() :]
    end = re.search(rf"^#{{1,{level}}} ", rest, re.MULTILINE)
    return rest[: end.start()] if end else rest


def bullets(body: str) -> list[tuple[str, str]]:
    """``*   **Name**: text`` or ``1.  **Name**: text`` items as (name, text), in order."""
    return re.findall(r"^(?:\*|\d+\.)\s+\*\*([^*]+?)\*\*:?\s*(.*)$", body, re.MULTILINE)


# --- the clauses --------------------------------------------------------------------------

Check = Callable[[Sources], tuple[object, object]]


def silence(s: Sources) -> tuple[object, object]:
    said = find(s.sop, r"No valid heartbeat or task assignment received for \*\*(\d+) minutes\*\*")
    return float(said[1]), s.policy.scenario_a.silence_minutes


def api_failures(s: Sources) -> tuple[object, object]:
    said = find(s.sop, r"5xx errors or time out for \*\*(\d+) consecutive attempts\*\*")
    return int(said[1]), s.policy.scenario_a.api_failures


def probe_interval(s: Sources) -> tuple[object, object]:
    said = find(s.sop, r"consecutive attempts\*\* \((\d+)-minute intervals\)")
    return float(said[1]), s.policy.scenario_a.api_probe_interval_minutes


def process_check(s: Sources) -> tuple[object, object]:
    said = find(
        s.sop,
        r"If running on the same host, the Dispatcher process is confirmed (\w+) or (\w+) via",
    )
    states = frozenset(said.groups())
    return (True, states), (s.policy.scenario_a.process_check_when_co_located, GONE_STATES)


def rate_limit(s: Sources) -> tuple[object, object]:
    said = find(
        s.sop,
        r'If Dispatcher reports "([^"]+)" or "([^"]+)" and remains restricted for more than '
        r"\*\*(\d+) minutes\*\*",
    )
    policy = s.policy.scenario_b
    return (said[1], said[2], float(said[3])), (*policy.signals, policy.rate_limited_minutes)


def backchannel_order(s: Sources) -> tuple[object, object]:
    body = section(s.sop, "Communication Backchannel")
    heads = [name for name, _ in bullets(body) if not name.startswith("*")]
    kinds = [BACKCHANNEL_KINDS.get(re.sub(r"\s*\(.*\)$", "", h), h) for h in heads]
    return kinds, [c.kind for c in s.policy.backchannels]


def recipient(s: Sources) -> tuple[object, object]:
    notify = find(s.sop, r"must immediately notify \*\*([^*]+)\*\*")
    dm = find(s.sop, r"Send a high-priority alert to user `([^`]+)`")
    return (notify[1], dm[1]), (s.policy.backchannel("discord_dm").recipient,) * 2


def emergency_log(s: Sources) -> tuple[object, object]:
    said = find(s.sop, r"Write a marker entry to `([^`]+)` with a timestamp and the trigger")
    return said[1], s.policy.backchannel("local_log").path


def alert_template(s: Sources) -> tuple[object, object]:
    said = repair(find(s.sop, r"\*Template\*: `([^`]+)`")[1])
    # The SOP's placeholders in square brackets are str.format fields in the policy.
    said = said.replace("[Hostname]", "{host}").replace("[Error/Timeout]", "{reason}")
    return said, s.policy.alert_template


def green_list(s: Sources) -> tuple[object, object]:
    body = section(s.sop, "Allowed (Green Light)")
    return [GREEN_NAMES.get(name, name) for name, _ in bullets(body)], [
        f.name for f in dataclasses.fields(s.policy.green_list)
    ]


def restart_when(s: Sources) -> tuple[object, object]:
    said = find(s.sop, r"Restarting critical services .* if they are (\w+) or (\w+)\.")
    return said.groups(), s.policy.green_list.restart_service.when_states


def disk(s: Sources) -> tuple[object, object]:
    said = find(s.sop, r"Clearing or rotating logs if disk usage exceeds \*\*(\d+)%\*\*")
    return float(said[1]), s.policy.green_list.rotate_logs.disk_usage_percent_above


def cvss(s: Sources) -> tuple[object, object]:
    said = find(s.sop, r"critical security updates \(CVSS > ([\d.]+)\) if (an active exploit)")
    patch = s.policy.green_list.security_patch
    return (float(said[1]), True), (patch.cvss_above, patch.requires_active_exploit)


def runaway(s: Sources) -> tuple[object, object]:
    said = find(s.sop, r"Killing runaway processes consuming >(\d+)% CPU/RAM for >(\d+) minutes")
    rule = s.policy.green_list.kill_runaway
    return (float(said[1]), float(said[1]), float(said[2])), (
        rule.cpu_percent_above,
        rule.ram_percent_above,
        rule.sustained_minutes,
    )


def red_list(s: Sources) -> tuple[object, object]:
    body = section(s.sop, "Prohibited (Red Light)")
    said = [(RED_NAMES.get(name, name), text.strip()) for name, text in bullets(body)]
    return said, [(a.name, a.description) for a in s.policy.red_list]


def recovery(s: Sources) -> tuple[object, object]:
    body = section(s.sop, "Recovery & Re-sync")
    return [RECOVERY_NAMES.get(name, name) for name, _ in bullets(body)], list(
        s.policy.recovery_steps
    )


def drill_target(s: Sources) -> tuple[object, object]:
    # SOP 6.2: the quarterly drill's detection target is the Scenario A silence.
    said = find(s.sop, r'Confirm Ops Expert detects the "Offline" state within (\d+) minutes')
    return float(said[1]), s.policy.scenario_a.silence_minutes


def rto(s: Sources) -> tuple[object, object]:
    where = "emergency-procedures.md"
    agent = find(s.procedures, r"^Agent Operations (\d+) minutes (\d+) minutes", where)
    ollama = find(s.procedures, r"^Ollama (\d+) minutes", where)
    gitea = find(s.procedures, r"^Gitea (\d+) minutes", where)
    said = (float(ollama[1]), float(agent[1]), float(agent[2]), float(gitea[1]))
    return said, (
        s.policy.rto.ollama_minutes,
        s.policy.rto.agent_operations_minutes,
        s.policy.rpo.agent_operations_minutes,
        s.policy.rto.gitea_minutes,
    )


def escalation(s: Sources) -> tuple[object, object]:
    where = "emergency-procedures.md"
    level1 = find(
        s.procedures, r"Level 1: Agent Self-Healing[\s\S]*?Duration: 0-(\d+) minutes", where
    )
    level2 = find(
        s.procedures, r"Level 2: Father Intervention[\s\S]*?Duration: (\d+)-(\d+) minutes", where
    )
    # Level 2 begins where Level 1 ends and lasts until the father escalates to Level 3.
    said = (float(level1[1]), float(level2[1]), float(level2[2]))
    held = s.policy.escalation
    return said, (held.self_healing_minutes, held.self_healing_minutes, held.father_minutes)


#: The severity table's examples and the failure scenarios -> the policy's incident kinds.
SEVERITY_EXAMPLES = {
    "All agents down": "agent_down",
    "Gitea lost": "gitea_lost",
    "Agent unresponsive": "agent_unresponsive",
    "Ollama down": "ollama_down",
    "Slow inference": "slow_inference",
    "network latency": "network_latency",
    "Report formatting": "report_formatting",
    "log rotation": "log_rotation",
}
SEVERITY_SCENARIOS = {
    "Complete Agent Failure": "agent_down",
    "Ollama Service Failure": "ollama_down",
    "Gitea Unavailable": "gitea_down",
    "Child Orphaning": "orphaned",
    "Complete Infrastructure Loss": "infrastructure_lost",
}


def severity(s: Sources) -> tuple[object, object]:
    where = "emergency-procedures.md"
    said: set[tuple[str, str]] = set()
    for row in re.finditer(r"^(P[0-3]) [A-Z]+ .*$", s.procedures, re.MULTILINE):
        said |= {(kind, row[1]) for words, kind in SEVERITY_EXAMPLES.items() if words in row[0]}
    for words, kind in SEVERITY_SCENARIOS.items():
        said.add((kind, find(s.procedures, rf"^Scenario \d: {words} \((P[0-3])\)$", where)[1]))
    table = dict(s.policy.severity)
    return sorted(said), sorted((kind, table.get(kind)) for kind, _ in said)


def latency(s: Sources) -> tuple[object, object]:
    # cell0 "## P2 - Slow Response Times", its symptom "API latency > 5 seconds".
    body = section(s.cell0, "- Slow Response Times")
    level = find(s.cell0, r"^## (P[0-3]) - Slow Response Times$", "cell0-incident-runbook.md")
    said = find(body, r"^- API latency > (\d+) seconds$", "cell0-incident-runbook.md")
    # The same clause bounds the Dispatcher's API (emergency-procedures.md P2 "network
    # latency"): both bounds and both levels are cell0's.
    return (float(said[1]), level[1]) * 2, (
        s.policy.latency.slow_inference_seconds,
        s.policy.severity_of("slow_inference"),
        s.policy.latency.network_latency_seconds,
        s.policy.severity_of("network_latency"),
    )


CHECKS: dict[str, Check] = {
    check.__name__: check
    for check in (
        silence,
        api_failures,
        probe_interval,
        process_check,
        rate_limit,
        backchannel_order,
        recipient,
        emergency_log,
        alert_template,
        green_list,
        restart_when,
        disk,
        cvss,
        runaway,
        red_list,
        recovery,
        drill_target,
        rto,
        escalation,
        severity,
        latency,
    )
}

SHIPPED = Sources(SOP_TEXT, PROCEDURES_TEXT, load_policy())


def drifted(sources: Sources) -> list[str]:
    """The clauses on which the policy and the documents disagree (or the phrase is gone)."""
    names = []
    for name, check in CHECKS.items():
        try:
            said, policy_says = check(sources)
        except PhraseMissing:
            names.append(name)
            continue
        if said != policy_says:
            names.append(name)
    return names


@pytest.mark.parametrize("name", CHECKS)
def test_policy_says_what_the_sop_says(name: str):
    said, policy_says = CHECKS[name](SHIPPED)
    assert policy_says == said, f"{name}: the SOP says {said!r}, the policy {policy_says!r}"


def test_the_template_repair_gives_the_police_light():
    # The first character of the damaged emoji is U+F8FF (Mac Roman's 0xF0), invisible.
    assert repair("\uf8ffüö®") == "\N{POLICE CARS REVOLVING LIGHT}"
    assert repair("‚úÖ") == "\N{WHITE HEAVY CHECK MARK}"
    assert repair("‚ùå") == "\N{CROSS MARK}"


# --- the check itself can fail ------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "clause"),
    [
        ("received for **15 minutes**", "received for **20 minutes**", "silence"),
        ("**3 consecutive attempts**", "**4 consecutive attempts**", "api_failures"),
        ("(1-minute intervals)", "(2-minute intervals)", "probe_interval"),
        ("confirmed dead or zombie", "confirmed dead or stopped", "process_check"),
        ("more than **3 minutes**", "more than **5 minutes**", "rate_limit"),
        ('"Rate Limit Exceeded" and', '"Quota Exceeded" and', "rate_limit"),
        ("alert to user `0x01`", "alert to user `0x02`", "recipient"),
        ("/var/log/openclaw/emergency.log", "/tmp/emergency.log", "emergency_log"),
        ("Initiating Emergency SOP.", "Starting Emergency SOP.", "alert_template"),
        ("Host: [Hostname].", "Server: [Hostname].", "alert_template"),
        ("exceeds **90%**", "exceeds **95%**", "disk"),
        ("(CVSS > 9.0)", "(CVSS > 7.0)", "cvss"),
        (">80% CPU/RAM", ">70% CPU/RAM", "runaway"),
        ("for >5 minutes", "for >10 minutes", "runaway"),
        ("down or degraded", "down or slow", "restart_when"),
        ("No deletion of application data", "No deletion of any data", "red_list"),
        ("**Privilege Escalation**", "**Privilege Changes**", "red_list"),
        ("state within 15 minutes", "state within 20 minutes", "drill_target"),
    ],
)
def test_editing_the_sop_is_caught(old: str, new: str, clause: str):
    assert SOP_TEXT.count(old) == 1, f"the mutation anchor {old!r} must be in the SOP once"
    edited = dataclasses.replace(SHIPPED, sop=SOP_TEXT.replace(old, new))
    assert clause in drifted(edited)


def swap(text: str, first: str, second: str) -> str:
    """``text`` with the lines containing ``first`` and ``second`` exchanged."""
    lines = text.splitlines(keepends=True)
    i = next(n for n, line in enumerate(lines) if first in line)
    j = next(n for n, line in enumerate(lines) if second in line)
    lines[i], lines[j] = lines[j], lines[i]
    return "".join(lines)


@pytest.mark.parametrize(
    ("first", "second", "clause"),
    [
        ("**Discord (Direct Message)**", "**Signal (If available)**", "backchannel_order"),
        ("**Stop Independent Actions**", "**Verify**", "recovery"),
        ("**Service Restarts**", "**Resource Monitoring**", "green_list"),
    ],
)
def test_reordering_the_sop_is_caught(first: str, second: str, clause: str):
    edited = dataclasses.replace(SHIPPED, sop=swap(SOP_TEXT, first, second))
    assert clause in drifted(edited)


@pytest.mark.parametrize(
    ("old", "new", "clause"),
    [
        ("Ollama 5 minutes", "Ollama 10 minutes", "rto"),
        ("Agent Operations 15 minutes 15 minutes", "Agent Operations 30 minutes 15 minutes", "rto"),
        ("Agent Operations 15 minutes 15 minutes", "Agent Operations 15 minutes 1 hour", "rto"),
        ("• Duration: 0-5 minutes", "• Duration: 0-10 minutes", "escalation"),
        ("Slow inference, network latency", "Slow inference, Ollama down", "severity"),
        ("Scenario 3: Gitea Unavailable (P1)", "Scenario 3: Gitea Unavailable (P2)", "severity"),
        ("P2 MEDIUM 1 hour", "P3 MEDIUM 1 hour", "severity"),
    ],
)
def test_editing_the_rto_table_is_caught(old: str, new: str, clause: str):
    edited = dataclasses.replace(SHIPPED, procedures=PROCEDURES_TEXT.replace(old, new))
    assert clause in drifted(edited)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("- API latency > 5 seconds", "- API latency > 10 seconds"),
        ("## P2 - Slow Response Times", "## P1 - Slow Response Times"),
    ],
)
def test_editing_cell0s_slow_responses_is_caught(old: str, new: str):
    assert CELL0_TEXT.count(old) == 1, f"the mutation anchor {old!r} must be in cell0 once"
    edited = dataclasses.replace(SHIPPED, cell0=CELL0_TEXT.replace(old, new))
    assert "latency" in drifted(edited)


def _policy(**changes: object) -> Policy:
    """The shipped policy with dotted fields changed: ``scenario_a__silence_minutes=16``."""
    policy = SHIPPED.policy
    for dotted, value in changes.items():
        *parents, leaf = dotted.split("__")
        chain = [policy]
        for name in parents:
            chain.append(getattr(chain[-1], name))
        replaced: object = dataclasses.replace(chain[-1], **{leaf: value})  # type: ignore[type-var]
        for holder, name in zip(reversed(chain[:-1]), reversed(parents), strict=True):
            replaced = dataclasses.replace(holder, **{name: replaced})  # type: ignore[type-var]
        policy = replaced  # type: ignore[assignment]
    return policy


P = SHIPPED.policy


@pytest.mark.parametrize(
    ("changes", "clause"),
    [
        ({"scenario_a__silence_minutes": 16.0}, "silence"),
        ({"scenario_a__api_failures": 2}, "api_failures"),
        ({"scenario_a__api_probe_interval_minutes": 0.5}, "probe_interval"),
        ({"scenario_a__process_check_when_co_located": False}, "process_check"),
        ({"scenario_b__rate_limited_minutes": 4.0}, "rate_limit"),
        ({"scenario_b__signals": P.scenario_b.signals[:1]}, "rate_limit"),
        ({"backchannels": tuple(reversed(P.backchannels))}, "backchannel_order"),
        ({"alert_template": P.alert_template.replace("CRITICAL", "WARNING")}, "alert_template"),
        ({"green_list__rotate_logs__disk_usage_percent_above": 95.0}, "disk"),
        ({"green_list__security_patch__cvss_above": 7.0}, "cvss"),
        ({"green_list__security_patch__requires_active_exploit": False}, "cvss"),
        ({"green_list__kill_runaway__ram_percent_above": 90.0}, "runaway"),
        ({"green_list__kill_runaway__sustained_minutes": 10.0}, "runaway"),
        ({"green_list__restart_service__when_states": ("down",)}, "restart_when"),
        ({"red_list": P.red_list[:3]}, "red_list"),
        ({"recovery_steps": tuple(reversed(P.recovery_steps))}, "recovery"),
        ({"rto__ollama_minutes": 10.0}, "rto"),
        ({"rto__gitea_minutes": 60.0}, "rto"),
        ({"rpo__agent_operations_minutes": 60.0}, "rto"),
        ({"escalation__self_healing_minutes": 15.0}, "escalation"),
        ({"escalation__father_minutes": 60.0}, "escalation"),
        ({"latency__slow_inference_seconds": 10.0}, "latency"),
        ({"latency__network_latency_seconds": 10.0}, "latency"),
        (
            {"severity": tuple((k, "P2" if k == "ollama_down" else v) for k, v in P.severity)},
            "severity",
        ),
    ],
)
def test_editing_the_policy_is_caught(changes: dict[str, object], clause: str):
    edited = dataclasses.replace(SHIPPED, policy=_policy(**changes))
    assert clause in drifted(edited)


def test_a_changed_recipient_or_log_path_is_caught():
    channels = tuple(
        dataclasses.replace(c, recipient="0x02")
        if c.kind == "discord_dm"
        else dataclasses.replace(c, path="/tmp/x.log")
        if c.kind == "local_log"
        else c
        for c in P.backchannels
    )
    edited = dataclasses.replace(SHIPPED, policy=_policy(backchannels=channels))
    assert {"recipient", "emergency_log"} <= set(drifted(edited))


def test_the_shipped_sources_do_not_drift():
    assert drifted(SHIPPED) == []
