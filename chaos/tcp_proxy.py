"""A TCP proxy the tests and scenarios stop and start, to take a server away from its
clients for a while (the server itself keeps running)."""

from __future__ import annotations

import contextlib
import re
import socket
import threading
from types import TracebackType
from typing import Self
from urllib.parse import urlsplit, urlunsplit

# PostgreSQL's ReadyForQuery, idle: the last message of the answer that ends a transaction,
# and the command tags (CommandComplete) of one that wrote.
READY_IDLE = b"Z\x00\x00\x00\x05I"
WROTE = re.compile(rb"C\x00\x00\x00.(?:INSERT|UPDATE|DELETE|COMMIT)", re.DOTALL)


class TcpProxy:
    """Forwards ``127.0.0.1:<port>`` to ``target``. ``stop()`` closes the listening socket
    and every open connection (clients see the server vanish and connecting is refused);
    ``start()`` listens on the same port again. ``lose_next_commit_answer()``: the next
    answer of a PostgreSQL server that ends a transaction that wrote is dropped with its
    connection (the server committed; the client never learns it)."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self._listener: socket.socket | None = None
        self._conns: set[socket.socket] = set()
        self._servers: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._lose_commit = False
        self.lost_answers = 0

    def lose_next_commit_answer(self) -> None:
        with self._lock:
            self._lose_commit = True

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def through(self, url: str) -> str:
        """``url`` (whose host and port are the target's) pointed at the proxy instead."""
        parts = urlsplit(url)
        user = f"{parts.username}@" if parts.username else ""
        return urlunsplit(parts._replace(netloc=f"{user}127.0.0.1:{self.port}"))

    def start(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def stop(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        with self._lock:
            conns, self._conns = self._conns, set()
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self._lock:
                if self._listener is not listener:
                    client.close()
                    server.close()
                    return
                self._conns.update((client, server))
                self._servers.add(server)
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                with self._lock:
                    lose = self._lose_commit and source in self._servers
                    lose = lose and data.endswith(READY_IDLE) and bool(WROTE.search(data))
                    if lose:
                        self._lose_commit, self.lost_answers = False, self.lost_answers + 1
                if lose:
                    break  # the answer is dropped, and both ends closed below
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
            with self._lock:
                self._conns.discard(source)
                self._servers.discard(source)
            source.close()
