"""A managed service that runs but fails the seeds' own health check is degraded (SOP 4)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import httpx

from sut.agent.facts import FactGatherer

from .test_service import agent_config

OLLAMA = "http://127.0.0.1:1"
GITEA = "http://127.0.0.1:2"


class _Supervised:
    """supervisord's word on every program: all running."""

    async def states(self) -> dict[str, str]:
        return {"ollama": "running", "gitea": "running", "nginx": "running"}


def _states(answers: dict[str, int], tmp_path: Path) -> dict[str, str]:
    config = agent_config(tmp_path, OLLAMA, ollama_url=OLLAMA, gitea_url=f"{GITEA}/")
    asked: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(str(request.url))
        return httpx.Response(answers[str(request.url)])

    async def gather() -> dict[str, str]:
        async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
            facts = FactGatherer(
                _Supervised(),  # type: ignore[arg-type]
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
