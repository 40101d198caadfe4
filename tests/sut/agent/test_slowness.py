"""Slow answers (cell0 "P2 - Slow Response Times"): news once an episode, after enough in a row."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from sop.policy import load_policy
from sop.severity import Latency
from sut.agent.slowness import SlowWatch

POLICY = load_policy()
BOUND = POLICY.latency.slow_inference_seconds


def test_ollama_slow_on_enough_checks_in_a_row_is_slow_inference_once():
    watch = SlowWatch(Latency(BOUND, 3, BOUND))
    assert watch.look({"ollama": BOUND + 1}) == []
    assert watch.look({"ollama": BOUND + 1}) == []
    [slow] = watch.look({"ollama": BOUND + 2, "gitea": 10 * BOUND})
    assert (slow.kind, slow.component, slow.took_sop_s, slow.checks) == (
        "slow_inference",
        "ollama",
        BOUND + 2,
        3,
    )
    assert f"{BOUND + 2:.1f} SOP s" in slow.reason()
    assert watch.look({"ollama": BOUND + 1}) == [], "once an episode"


def test_an_answer_at_the_bound_is_not_slow_and_ends_the_streak():
    watch = SlowWatch(Latency(BOUND, 2, BOUND))
    assert watch.look({"ollama": BOUND + 1}) == []
    assert watch.look({"ollama": BOUND}) == [], "cell0: latency > the bound is slow"
    assert watch.look({"ollama": BOUND + 1}) == [], "the streak began again"
    assert len(watch.look({"ollama": BOUND + 1})) == 1


def test_the_dispatcher_slower_than_its_own_bound_is_network_latency_apart_from_ollama():
    # emergency-procedures.md P2 "network latency": the probe's answers, their own bound.
    net = 2 * BOUND
    watch = SlowWatch(Latency(BOUND, 2, net))
    assert watch.look({"dispatcher": net}) == [], "at the bound is not slow"
    assert watch.look({"ollama": BOUND + 1}) == []
    assert watch.look({"dispatcher": net + 1}) == []
    [slow] = watch.look({"dispatcher": net + 1})
    assert (slow.kind, slow.component, slow.bound_sop_s) == ("network_latency", "dispatcher", net)
    assert "the Dispatcher's API answered the agent's probe" in slow.reason()
    assert watch.look({"dispatcher": net + 1}) == [], "once an episode"
    assert len(watch.look({"ollama": BOUND + 1})) == 1, "Ollama's streak is its own"


#: One round's answer from Ollama: None (no 200), fast, or slow.
ANSWERS = st.lists(st.sampled_from([None, "fast", "slow"]), max_size=40)


@given(ANSWERS, st.integers(min_value=1, max_value=4))
def test_news_comes_at_the_nth_slow_answer_of_each_episode(answers, in_a_row):
    """An episode is what lies between fast answers; a round without a 200 counts neither
    way. News comes exactly at the ``in_a_row``-th slow answer of an episode, never again."""
    watch = SlowWatch(Latency(BOUND, in_a_row, BOUND))
    took = {"fast": BOUND / 2, "slow": BOUND * 2}
    expected, seen, slow_so_far = [], [], 0
    for n, answer in enumerate(answers):
        news = watch.look({} if answer is None else {"ollama": took[answer]})
        seen += [n] * len(news)
        if answer == "fast":
            slow_so_far = 0
        elif answer == "slow":
            slow_so_far += 1
            if slow_so_far == in_a_row:
                expected.append(n)
    assert seen == expected
