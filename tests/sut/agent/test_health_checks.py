"""A managed service that runs but fails the seeds' own health check is degraded (SOP 4)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from sut.agent.facts import FactGatherer
from sut.agent.supervisor import STARTUP_GRACE_S, _state_word

from .test_service import agent_config

OLLAMA = "http://127.0.0.1:1"
GITEA = "http://127.0.0.1:2"


class _Supervised:
    """supervisord's word on every program (``Supervisor.states``): all running."""

    def __init__(self, word: str = "running") -> None:
        self.word = word

    async def states(self) -> dict[str, str]:
        return {"ollama": self.word, "gitea": self.word, "nginx": self.word}


def _states(answers: dict[str, int], tmp_path: Path, word: str = "running") -> dict[str, str]:
    config = agent_config(tmp_path, OLLAMA, ollama_url=OLLAMA, gitea_url=f"{GITEA}/")
    asked: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(str(request.url))
        return httpx.Response(answers[str(request.url)])

    async def gather() -> dict[str, str]:
        async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
            facts = FactGatherer(
                _Supervised(word),  # type: ignore[arg-type]
                ("ollama", "gitea", "nginx"),
                config.health_checks,
                tmp_path,
                None,
                client,
                1.0,
            )
            return await facts.service_states()

    states = asyncio.run(gather())
    assert sorted(asked) == sorted(answers), "each check asked once, nginx has none"
    return states


def test_the_seeds_health_checks_are_ollamas_tags_and_giteas_version(tmp_path: Path) -> None:
    config = agent_config(tmp_path, OLLAMA, ollama_url=OLLAMA, gitea_url=f"{GITEA}/")
    assert config.health_checks == {
        "ollama": f"{OLLAMA}/api/tags",
        "gitea": f"{GITEA}/api/v1/version",
    }
    assert replace(config, gitea_url=None, ollama_url=None).health_checks == {}


def test_gitea_failing_its_version_check_is_degraded(tmp_path: Path) -> None:
    states = _states({f"{OLLAMA}/api/tags": 200, f"{GITEA}/api/v1/version": 503}, tmp_path)
    assert states == {"ollama": "running", "gitea": "degraded", "nginx": "running"}


def test_ollama_failing_its_tags_check_is_degraded(tmp_path: Path) -> None:
    states = _states({f"{OLLAMA}/api/tags": 500, f"{GITEA}/api/v1/version": 200}, tmp_path)
    assert states == {"ollama": "degraded", "gitea": "running", "nginx": "running"}


def test_a_service_still_starting_is_running_once_it_answers_and_else_left_be(
    tmp_path: Path,
) -> None:
    # Neither down nor degraded while it boots: no restart, no distress signal.
    states = _states(
        {f"{OLLAMA}/api/tags": 200, f"{GITEA}/api/v1/version": 503}, tmp_path, "starting"
    )
    assert states == {"ollama": "running", "nginx": "running"}


@pytest.mark.parametrize(
    ("info", "word"),
    [
        ({"statename": "RUNNING", "start": 1000, "now": 1000 + STARTUP_GRACE_S}, "running"),
        ({"statename": "RUNNING", "start": 1000, "now": 1001}, "starting"),
        ({"statename": "STARTING", "start": 1000, "now": 5000}, "starting"),
        ({"statename": "STOPPING", "start": 1000, "now": 5000}, "stopping"),
        ({"statename": "BACKOFF", "start": 1000, "now": 1001}, "down"),
        ({"statename": "STOPPED", "start": 0, "now": 5000}, "down"),
    ],
)
def test_supervisords_record_in_the_sops_words(info: dict[str, Any], word: str) -> None:
    assert _state_word(info) == word


def test_the_time_each_check_took_to_answer_200_is_kept_for_the_round(tmp_path: Path) -> None:
    """cell0 P2 "API latency > 5 seconds" is read off these times (sut/agent/slowness.py)."""
    config = agent_config(tmp_path, OLLAMA, ollama_url=OLLAMA, gitea_url=GITEA)
    now = [100.0]  # the gatherer's clock, moved by the answers themselves: no sleeping
    took = {f"{OLLAMA}/api/tags": 7.5, f"{GITEA}/api/v1/version": 0.25}
    status = {f"{OLLAMA}/api/tags": 200, f"{GITEA}/api/v1/version": 200}

    def answer(request: httpx.Request) -> httpx.Response:
        now[0] += took[str(request.url)]
        return httpx.Response(status[str(request.url)])

    async def gather() -> dict[str, float]:
        async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
            facts = FactGatherer(
                _Supervised(),  # type: ignore[arg-type]
                ("ollama", "gitea"),
                config.health_checks,
                tmp_path,
                None,
                client,
                1.0,
                monotonic=lambda: now[0],
            )
            first = (await facts.gather(0.0)).health_check_wall_s
            assert first == {"ollama": 7.5, "gitea": 0.25}
            status[f"{OLLAMA}/api/tags"] = 500  # degraded: no answer's time this round
            return dict((await facts.gather(1.0)).health_check_wall_s)

    assert asyncio.run(gather()) == {"gitea": 0.25}
