"""Changing a gauge cache's interval changes how long its background loop waits."""

from __future__ import annotations

import asyncio

from hub.api.metrics import GaugeCache, Gauges


def test_a_longer_interval_stops_further_refreshes() -> None:
    reads = 0

    def read() -> Gauges:
        nonlocal reads
        reads += 1
        return Gauges()

    async def run() -> int:
        cache = GaugeCache(read, None, interval_s=0.01)
        cache.start()
        await asyncio.sleep(0.1)
        cache.interval_s = 3600
        await asyncio.sleep(0.05)  # the wait under way ends; then one refresh, then an hour
        seen = reads
        await asyncio.sleep(0.2)
        await cache.stop()
        return reads - seen

    assert asyncio.run(run()) == 0
