"""AsyncClient: 16 concurrent requests give the serial results."""

from __future__ import annotations

from typing import Any, List

import anyio
import numpy as np
import pytest

from helpers import assert_parity, golden_cases, load_golden

from omnizip_client import AsyncClient, Client, CompressResult

pytestmark = pytest.mark.anyio


def _same(a: CompressResult, b: CompressResult) -> None:
    for name in ("keep_mask", "kept_index", "merged_index", "merged_embeds", "video_chunk_ratio", "audio_chunk_retention"):
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype and np.array_equal(x, y), name
    assert a.counts == b.counts


async def test_sixteen_concurrent_requests_equal_serial(server: Any) -> None:
    names = golden_cases()
    picks = [names[i % len(names)] for i in range(0, 16 * 3, 3)][:16]
    goldens = [load_golden(n) for n in picks]
    with Client(server.url) as sync:
        serial = [sync.compress(g.embeds, g.request["input_ids"], g.request["audio_scores"], g.request["video_grid_thw"],
                                **g.params()) for g in goldens]

    results: List[Any] = [None] * len(goldens)
    async with AsyncClient(server.url, timeout=120.0, max_connections=16) as client:
        async def one(i: int) -> None:
            g = goldens[i]
            results[i] = await client.compress(g.embeds, g.request["input_ids"], g.request["audio_scores"],
                                               g.request["video_grid_thw"], request_id=f"async-{i}", **g.params())

        async with anyio.create_task_group() as tg:
            for i in range(len(goldens)):
                tg.start_soon(one, i)

    assert len(results) == 16
    for i, (got, want, g) in enumerate(zip(results, serial, goldens)):
        _same(got, want)
        assert_parity(got, g)
        assert got.request_id == f"async-{i}"


async def test_async_score_and_bytes(server: Any) -> None:
    g = load_golden(golden_cases()[0])
    async with AsyncClient(server.url) as client:
        assert await client.ready() and await client.live()
        info = await client.info()
        assert "defaults" in info and "limits" in info
        result = await client.compress_bytes(g.body)
        assert_parity(result, g)
        plan = await client.score(g.request["audio_scores"], input_ids=g.request["input_ids"],
                                  video_grid_thw=g.request["video_grid_thw"], **g.params())
        assert plan.counts.kept_audio == result.counts.kept_audio
        assert "omnizip" in (await client.metrics())
