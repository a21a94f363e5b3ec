"""A caller that goes away: the upstream request is closed and the reply kept as interrupted."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest

from tests.integration.conftest import GatewayFactory, SimulatorFactory
from thinkingthoughts.app import open_resources
from thinkingthoughts.engine.turn import StreamStarted, TurnMessage, TurnRequest
from thinkingthoughts.settings import Settings
from thinkingthoughts.storage import message_store


def test_a_client_leaving_a_whole_reply_early_interrupts_it(
    simulator_factory: SimulatorFactory, gateway_factory: GatewayFactory
) -> None:
    """Non-streaming: the gateway keeps waiting for the upstream for a caller that is gone."""
    slow = simulator_factory(time_to_first_token=1.5)
    live = gateway_factory(upstream=slow, llm_model="thinkingthoughts-sim", llm_max_model_len=4096)
    with live.client(live.admin_key) as client:
        session_id = client.post("/api/chat", json={"message": "first"}).json()["session_id"]
        with pytest.raises(httpx.ReadTimeout):
            client.post(
                "/api/chat",
                json={"message": "second", "session_id": session_id},
                timeout=httpx.Timeout(30, read=0.3),
            )
        time.sleep(2.0)  # long enough for the upstream to have finished the whole reply
        last = client.get(f"/api/sessions/{session_id}").json()["messages"][-1]
    assert last["role"] == "assistant"
    assert last["status"] == "interrupted"


async def test_a_stream_closed_right_after_its_start_event_is_recorded_and_closes_upstream(
    simulator_factory: SimulatorFactory, database_url: str, tmp_path: Path
) -> None:
    """`yield StreamStarted` sits before the try/finally in ChatService.stream.

    The API closes the generator right there when sending the `start` event fails (the
    client left while the gateway was waiting for the upstream's headers): no assistant
    message is stored and the upstream response is left open.
    """
    slow = simulator_factory(inter_token_latency=0.05, reply_tokens=400)
    settings = Settings(
        _env_file=None,
        data_dir=tmp_path / "data",
        database_url=database_url,
        llm_base_url=slow.base_url,
    )
    async with open_resources(
        settings, base_url=slow.base_url, announce=lambda _: None
    ) as resources:
        turn = await resources.chat.prepare(
            TurnRequest(
                owner="admin",
                session_id=None,
                persona_ref=None,
                traits={},
                messages=(TurnMessage(role="user", content="hello"),),
                stateless=False,
            )
        )
        events = resources.chat.stream(turn)
        assert isinstance(await anext(events), StreamStarted)
        await events.aclose()
        assert turn.session_id is not None
        async with resources.database.session() as db:
            rows = await message_store.list_messages(db, session_id=turn.session_id, limit=10)
        assert rows[-1].role == "assistant"
        assert rows[-1].status == "interrupted"
        deadline = time.monotonic() + 3
        async with httpx.AsyncClient() as http:
            while (await http.get(slow.root_url + "/_sim/stats")).json()["active_streams"]:
                assert time.monotonic() < deadline, "the upstream stream was left open"
                await asyncio.sleep(0.05)
