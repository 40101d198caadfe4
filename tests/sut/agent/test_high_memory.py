"""Memory runaways (cell0 "P1 - High Memory Usage"): which kills are one, news once an episode."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sop.policy import load_policy
from sut.agent.gate import ActionRequest, HostFacts, ProcessUsage
from sut.agent.high_memory import KIND, MemoryWatch, runaway

POLICY = load_policy()
RULE = POLICY.green_list.kill_runaway
RAM_BAR = RULE.ram_percent_above
CPU_BAR = RULE.cpu_percent_above
NOW = 100.0
SINCE = NOW - 2 * RULE.sustained_minutes


def usage(pid: int = 42, ram: float = RAM_BAR + 10, cpu: float = 1.0, since=SINCE) -> ProcessUsage:
    return ProcessUsage(pid, "burner", cpu, ram, since)


def facts(*processes: ProcessUsage) -> HostFacts:
    return HostFacts(NOW, {}, None, {p.pid: p for p in processes})


def kill(pid: int = 42, source: str = "autonomous", action: str = "kill_runaway") -> ActionRequest:
    return ActionRequest(action, str(pid), {}, source)


def test_the_kill_of_a_process_over_the_ram_bar_is_a_high_memory_runaway():
    found = runaway(RULE, kill(), facts(usage()))
    assert found is not None
    assert (found.pid, found.name, found.component) == (42, "burner", "42")
    assert found.ram_percent == RAM_BAR + 10
    assert "High Memory Usage" in found.reason()
    assert f"{2 * RULE.sustained_minutes:.1f} SOP min" in found.reason()
    assert found.details()["over_sop_minutes"] == 2 * RULE.sustained_minutes
    assert found.watch_key == f"{KIND}:42"
    assert KIND == "high_memory"
    assert POLICY.severity_of(KIND) == "P1"  # cell0 "P1 - High Memory Usage"


@pytest.mark.parametrize(
    ("request_", "process", "why"),
    [
        (kill(), usage(ram=RAM_BAR, cpu=CPU_BAR + 10), "over the CPU bar alone"),
        (kill(), usage(ram=RAM_BAR), "at the bar is not over it (SOP 4: >80%)"),
        (kill(source="task:t-1"), usage(), "a Dispatcher's task, not the agent's own kill"),
        (kill(source="local:op"), usage(), "a person's request on the host"),
        (kill(action="restart_service"), usage(), "another action"),
        (kill(pid=7), usage(), "a process the facts do not hold"),
        (kill(), usage(since=None), "not over any bar since any instant"),
    ],
)
def test_other_kills_and_actions_are_no_high_memory_runaway(request_, process, why):
    assert runaway(RULE, request_, facts(process)) is None, why


def test_a_target_that_is_no_pid_is_no_runaway():
    assert runaway(RULE, ActionRequest("kill_runaway", "nginx", {}, "autonomous"), facts()) is None


def test_a_retried_kill_is_the_same_episode_and_news_once():
    watch = MemoryWatch(RULE)
    found = runaway(RULE, kill(), facts(usage()))
    assert found is not None
    assert watch.news(found) is True
    assert watch.news(found) is False, "the kill retried: one incident"
    assert watch.ended({42: usage()}) == [], "still over the bar since the same instant"


@pytest.mark.parametrize(
    ("after", "why"),
    [
        ({}, "killed: gone"),
        ({42: usage(ram=RAM_BAR / 2, since=None)}, "under every bar"),
        ({42: usage(ram=RAM_BAR / 2, cpu=CPU_BAR + 10)}, "over the CPU bar alone"),
        ({42: usage(since=SINCE + 1)}, "over again since another instant (a new process)"),
    ],
)
def test_an_episode_ends_when_the_process_is_gone_or_under_the_ram_bar(after, why):
    watch = MemoryWatch(RULE)
    found = runaway(RULE, kill(), facts(usage()))
    assert found is not None
    watch.news(found)
    assert watch.ended(after) == [42], why
    assert watch.ended(after) == [], "handed out once"
    again = runaway(RULE, kill(), facts(usage(since=SINCE + 1)))
    assert again is not None
    assert watch.news(again) is True, "the next episode is news again"


#: One round of the process: gone, under the bar, or over it since one of two instants.
ROUNDS = st.lists(st.sampled_from(["gone", "under", "over-a", "over-b"]), max_size=30)


@given(ROUNDS)
def test_news_comes_once_for_each_run_of_rounds_over_the_bar_since_one_instant(rounds):
    """Each round the watch hears of the episodes that ended, then the kill is asked for
    while the process is over: news exactly at the first round of each run."""
    watch = MemoryWatch(RULE)
    since = {"over-a": SINCE, "over-b": SINCE + 1}
    seen, expected, previous = [], [], None
    for n, state in enumerate(rounds):
        process = {} if state == "gone" else {42: usage(ram=RAM_BAR / 2, since=None)}
        if state in since:
            process = {42: usage(since=since[state])}
        watch.ended(process)
        if state in since:
            found = runaway(RULE, kill(), HostFacts(NOW, {}, None, process))
            assert found is not None
            if watch.news(found):
                seen.append(n)
            if state != previous:
                expected.append(n)
        previous = state
    assert seen == expected
