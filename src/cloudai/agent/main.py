"""`cloudai agent`: the example agent as a process, until a stop signal."""

from __future__ import annotations

import asyncio

from cloudai.agent.client import Agent, AgentClient
from cloudai.cli import render
from cloudai.domain.errors import CloudAIError
from cloudai.launch.signals import StopSignals
from cloudai.logs import configure_logging

_INTERRUPTED = 130


def run(master: str, token: str, *, policy: str, interval_s: float, log_level: str) -> int:
    """Run the agent against the master at `master` (HOST:PORT); the exit status."""
    configure_logging(log_level)
    try:
        asyncio.run(_serve(master, token, policy, interval_s))
    except KeyboardInterrupt:  # Ctrl-C before the stop handlers were in place
        return _INTERRUPTED
    except CloudAIError as exc:  # the token was refused
        render.error(str(exc))
        return 1
    return 0


async def _serve(master: str, token: str, policy: str, interval_s: float) -> None:
    client = AgentClient(master, token)
    try:
        agent = Agent(client, policy)
        render.info(f"scheduling agent ({agent.policy}) placing for the master at {master}")
        with StopSignals() as stop:
            await agent.run(interval_s, stop.requested)
    finally:
        await client.close()
