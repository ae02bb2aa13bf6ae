"""The server's shared listening socket is TCP, so asyncio turns Nagle's algorithm off on each connection."""

from __future__ import annotations

import asyncio
import socket

from gridplanner.api.server import APP, TcpConfig


def _nodelay_of_accepted(sock: socket.socket) -> int:
    """TCP_NODELAY of a connection accepted by an asyncio server on ``sock`` (as a uvicorn worker does)."""

    async def go() -> int:
        seen: asyncio.Future = asyncio.get_running_loop().create_future()

        class Probe(asyncio.Protocol):
            def connection_made(self, transport):
                seen.set_result(transport.get_extra_info("socket").getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
                transport.close()

        server = await asyncio.get_running_loop().create_server(Probe, sock=sock)
        _, writer = await asyncio.open_connection(*sock.getsockname()[:2])
        try:
            return await asyncio.wait_for(seen, 5)
        finally:
            writer.close()
            server.close()

    return asyncio.run(go())


def test_workers_share_a_tcp_socket_and_connections_get_nodelay():
    sock = TcpConfig(APP, factory=True, host="127.0.0.1", port=0, workers=2).bind_socket()
    assert sock.proto == socket.IPPROTO_TCP and sock.get_inheritable()
    sock.listen()
    assert _nodelay_of_accepted(sock) != 0
