"""Running the API under uvicorn, with Nagle's algorithm off on every connection however many workers serve it.

With ``workers > 1`` uvicorn opens the shared listening socket itself, with protocol number 0. asyncio sets
TCP_NODELAY only on sockets whose protocol is IPPROTO_TCP, so every connection the workers accepted kept Nagle's
algorithm on: a response written as headers then body waited for the client's delayed ACK, about 40 ms per
request on a keep-alive connection (wrk measured 48 ms for ``/api/v1/health`` with 2 workers, 1.3 ms with this).
uvloop sets TCP_NODELAY whatever the protocol number; the plain asyncio loop needs the socket opened as TCP.

    python -m gridplanner.api.server --port 8000 --workers 2
"""

from __future__ import annotations

import argparse
import socket

import uvicorn
from uvicorn.supervisors import Multiprocess

APP = "gridplanner.api.app:create_app"


class TcpConfig(uvicorn.Config):
    """uvicorn's configuration, binding the shared socket of the workers as a TCP socket."""

    def bind_socket(self) -> socket.socket:
        sock = super().bind_socket()
        if sock.family not in (socket.AF_INET, socket.AF_INET6):
            return sock  # a Unix socket: no Nagle
        tcp = socket.socket(sock.family, sock.type, socket.IPPROTO_TCP, fileno=sock.detach())
        tcp.set_inheritable(True)
        return tcp


def run(host: str, port: int, workers: int = 1, **options) -> None:
    """Serve the app, as ``uvicorn.run`` would (``options`` are uvicorn's: log_level, access_log ...)."""
    config = TcpConfig(APP, factory=True, host=host, port=port, workers=workers, **options)
    server = uvicorn.Server(config=config)
    if config.workers > 1:
        Multiprocess(config, sockets=[config.bind_socket()]).run()
    else:
        server.run()  # one process: asyncio's own create_server opens a TCP socket


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Serve the Gridplanner API with uvicorn.")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8000)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--log-level", default="info")
    ap.add_argument("--no-access-log", action="store_true")
    args = ap.parse_args(argv)
    run(args.host, args.port, args.workers, log_level=args.log_level, access_log=not args.no_access_log)


if __name__ == "__main__":
    main()
