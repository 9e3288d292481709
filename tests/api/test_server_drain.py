"""A retiring API process answers the requests of connections it has already accepted.

In a rolling restart (SIGHUP) each retiring process gets SIGTERM while its replacement is
already serving the same socket. uvicorn's shutdown stops accepting and closes at once
every connection whose request it has not begun, so a connection accepted just before the
signal was closed unanswered (seen in CI under load: "server disconnected without sending
a response"). :class:`dispatch_api.server._DrainingServer` gives such connections time to
send their request first.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import uvicorn

from dispatch_api.server import DRAIN_S, _DrainingServer


async def _app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    assert scope["type"] == "http"
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def test_a_retiring_process_answers_a_request_on_a_connection_it_had_accepted() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    server = _DrainingServer(uvicorn.Config(_app, lifespan="off", log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]})
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        assert server.started
        client = socket.create_connection(listener.getsockname(), timeout=30)
        deadline = time.monotonic() + 30
        while not server.server_state.connections and time.monotonic() < deadline:
            time.sleep(0.02)
        assert server.server_state.connections  # accepted, no request yet
        server.should_exit = True  # SIGTERM
        time.sleep(min(0.3, DRAIN_S / 3))  # the shutdown has begun: no more accepting
        client.sendall(b"GET / HTTP/1.1\r\nHost: countyroute\r\n\r\n")
        answer = client.recv(1024)
        client.close()
        assert answer.startswith(b"HTTP/1.1 200"), answer
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        listener.close()
