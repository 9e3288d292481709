"""A load generator for the dispatch API, run as its own process (``python
benchmarks/api_load.py CONFIG.json MODE``) so that it does not share an interpreter with the
server it measures. Plain HTTP/1.1 over asyncio streams (keep-alive), latencies measured from
the moment each request was *due* (open loop: a late request counts its wait), printed as
one JSON object.

Modes:

``burst``
    ``n`` route fetches from ``concurrency`` clients that all start at once, each opening its
    own connection (connect time counted) — the 07:00 start of a county. Also reports the
    clients' first fetches apart (connect included) and the connects alone: a tail there is
    the connection storm or the servers' cold start, a tail in the rest is queueing.
``steady``
    route fetches paced at ``rate`` per second for ``seconds`` over ``conns`` connections.
``mixed``
    single-event PUTs paced at ``put_rate`` per second, while route fetches run at
    ``get_rate``; reports both.
``ingest``
    ``events`` unique events in batches of ``batch`` over ``conns`` connections, as fast as
    the server takes them.

The config names the server (``url``) and the couriers: ``[{"key", "route", "stops",
"plan"}]`` (their route label, visit stop indexes, the published plan id) and ``date``.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
from typing import Any


class Conn:
    """One keep-alive HTTP/1.1 connection."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(
        self, method: str, path: str, headers: dict[str, str], body: bytes = b""
    ) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        if body:
            lines.append(f"Content-Length: {len(body)}")
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        chunked = False
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            lname = name.strip().lower()
            if lname == b"content-length":
                length = int(value)
            elif lname == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
        if chunked:
            data = b""
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).strip(), 16)
                data += await self.reader.readexactly(size + 2)
                if size == 0:
                    break
            return status, data
        return status, await self.reader.readexactly(length) if length else b""

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def _pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * (len(s) - 1)))] * 1000 if s else float("nan")


def _summary(lat: list[float], errors: list[int], elapsed: float) -> dict[str, Any]:
    return {
        "requests": len(lat),
        "errors": len(errors),
        "error_codes": sorted(set(errors))[:10],
        "p50_ms": round(_pct(lat, 0.5), 2),
        "p95_ms": round(_pct(lat, 0.95), 2),
        "p99_ms": round(_pct(lat, 0.99), 2),
        "max_ms": round(max(lat) * 1000, 2) if lat else None,
        "mean_ms": round(statistics.fmean(lat) * 1000, 2) if lat else None,
        "seconds": round(elapsed, 2),
        "rate_per_s": round(len(lat) / elapsed, 1) if elapsed else None,
    }


def _route_path(cfg: dict[str, Any]) -> str:
    return f"/v1/courier/route?date={cfg['date']}&crs=gcj02"


async def burst(cfg: dict[str, Any], host: str, port: int) -> dict[str, Any]:
    n, conc = int(cfg["n"]), int(cfg["concurrency"])
    couriers = cfg["couriers"]
    path = _route_path(cfg)
    lat: list[float] = []
    first: list[float] = []  # each client's first fetch: its connect, then the answer
    connect: list[float] = []
    errors: list[int] = []
    go = asyncio.Event()

    async def client(c: int) -> None:
        key = couriers[c % len(couriers)]["key"]
        conn = Conn(host, port)
        await go.wait()
        for k in range(c, n, conc):
            t0 = time.perf_counter()
            try:
                if k == c:
                    conn.reader, conn.writer = await asyncio.open_connection(host, port)
                    connect.append(time.perf_counter() - t0)
                status, _ = await conn.request("GET", path, {"Authorization": f"Bearer {key}"})
            except (OSError, asyncio.IncompleteReadError):
                status = 599
                conn.close()
                conn = Conn(host, port)
            lat.append(time.perf_counter() - t0)
            if k == c:
                first.append(lat[-1])
            if status != 200:
                errors.append(status)
        conn.close()

    tasks = [asyncio.create_task(client(c)) for c in range(conc)]
    await asyncio.sleep(0.5)
    t0 = time.perf_counter()
    go.set()
    await asyncio.gather(*tasks)
    out = _summary(lat, errors, time.perf_counter() - t0)
    out["first_fetch_p50_ms"] = round(_pct(first, 0.5), 2)
    out["first_fetch_p95_ms"] = round(_pct(first, 0.95), 2)
    out["connect_p95_ms"] = round(_pct(connect, 0.95), 2)
    return out


async def _paced(
    host: str,
    port: int,
    rate: float,
    seconds: float,
    conns: int,
    make: Any,
    start: float,
) -> tuple[list[float], list[int]]:
    """Requests due at ``start + k / rate`` on ``conns`` connections (request k on
    connection k % conns); latency from the due time."""
    n = int(rate * seconds)
    lat: list[float] = []
    errors: list[int] = []

    async def worker(w: int) -> None:
        conn = Conn(host, port)
        for k in range(w, n, conns):
            due = start + k / rate
            pause = due - time.perf_counter()
            if pause > 0:
                await asyncio.sleep(pause)
            method, path, headers, body, ok = make(k)
            try:
                status, _ = await conn.request(method, path, headers, body)
            except (OSError, asyncio.IncompleteReadError):
                status = 599
                conn.close()
                conn = Conn(host, port)
            lat.append(time.perf_counter() - due)
            if status not in ok:
                errors.append(status)
        conn.close()

    await asyncio.gather(*(worker(w) for w in range(conns)))
    return lat, errors


def _get(cfg: dict[str, Any]) -> Any:
    couriers, path = cfg["couriers"], _route_path(cfg)

    def make(k: int) -> tuple[str, str, dict[str, str], bytes, tuple[int, ...]]:
        key = couriers[k % len(couriers)]["key"]
        return "GET", path, {"Authorization": f"Bearer {key}"}, b"", (200,)

    return make


def _put(cfg: dict[str, Any], tag: str) -> Any:
    couriers = cfg["couriers"]

    def make(k: int) -> tuple[str, str, dict[str, str], bytes, tuple[int, ...]]:
        c = couriers[k % len(couriers)]
        stop = c["stops"][k % len(c["stops"])]
        body = json.dumps(
            {
                "route": c["route"],
                "stop": stop,
                "type": "arrived",
                "at": f"{cfg['date']}T10:{k % 60:02d}:00+08:00",
            }
        ).encode()
        headers = {"Authorization": f"Bearer {c['key']}", "Content-Type": "application/json"}
        return "PUT", f"/v1/plans/{c['plan']}/events/{tag}-{k}", headers, body, (201,)

    return make


async def steady(cfg: dict[str, Any], host: str, port: int) -> dict[str, Any]:
    start = time.perf_counter() + 0.3
    lat, errors = await _paced(
        host, port, cfg["rate"], cfg["seconds"], cfg.get("conns", 64), _get(cfg), start
    )
    return _summary(lat, errors, time.perf_counter() - start)


async def mixed(cfg: dict[str, Any], host: str, port: int) -> dict[str, Any]:
    start = time.perf_counter() + 0.3
    tag = f"m{time.time_ns()}"
    (put_lat, put_err), (get_lat, get_err) = await asyncio.gather(
        _paced(
            host, port, cfg["put_rate"], cfg["seconds"], cfg.get("conns", 32), _put(cfg, tag), start
        ),
        _paced(host, port, cfg["get_rate"], cfg["seconds"], cfg.get("conns", 32), _get(cfg), start),
    )
    elapsed = time.perf_counter() - start
    return {"put": _summary(put_lat, put_err, elapsed), "get": _summary(get_lat, get_err, elapsed)}


async def ingest(cfg: dict[str, Any], host: str, port: int) -> dict[str, Any]:
    total, batch, conns = int(cfg["events"]), int(cfg["batch"]), int(cfg.get("conns", 8))
    couriers = cfg["couriers"]
    tag = f"i{time.time_ns()}"
    bodies = []
    for b in range(total // batch):
        c = couriers[b % len(couriers)]
        events = [
            {
                "id": f"{tag}-{b}-{k}",
                "route": c["route"],
                "stop": c["stops"][k % len(c["stops"])],
                "type": "arrived",
                "at": f"{cfg['date']}T10:{k % 60:02d}:00+08:00",
            }
            for k in range(batch)
        ]
        bodies.append((c, json.dumps({"events": events}).encode()))
    stored = 0
    errors: list[int] = []

    async def worker(w: int) -> None:
        nonlocal stored
        conn = Conn(host, port)
        for c, body in bodies[w::conns]:
            status, data = await conn.request(
                "POST",
                f"/v1/plans/{c['plan']}/events",
                {"Authorization": f"Bearer {c['key']}", "Content-Type": "application/json"},
                body,
            )
            if status != 200:
                errors.append(status)
            else:
                stored += json.loads(data)["stored"]
        conn.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(worker(w) for w in range(conns)))
    elapsed = time.perf_counter() - t0
    return {
        "events": len(bodies) * batch,
        "stored": stored,
        "errors": len(errors),
        "seconds": round(elapsed, 2),
        "events_per_s": round(len(bodies) * batch / elapsed),
        "tag": tag,
    }


MODES = {"burst": burst, "steady": steady, "mixed": mixed, "ingest": ingest}


def main() -> None:
    cfg = json.loads(open(sys.argv[1], encoding="utf-8").read())  # noqa: SIM115
    mode = sys.argv[2]
    host, port = cfg["url"].removeprefix("http://").split(":")
    try:  # the lighter loop, so that the generator takes less of the machine it shares
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    result = asyncio.run(MODES[mode](cfg, host, int(port)))
    print(json.dumps({"mode": mode, **result}))


if __name__ == "__main__":
    main()
