"""`FakeLine`: the fake LINE API served over real HTTP on 127.0.0.1 from a background thread.

with FakeLine() as fake:
    settings = Settings(LINE_API_BASE_URL=fake.base_url, ...)
    fake.fail_next("push", status=500, times=2)
    ...
    assert fake.messages_to("U…") == [...]
    assert fake.violations == []
"""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType

import uvicorn

from bot.fakeline.app import create_fake_line_app
from bot.fakeline.state import FakeLineState


class FakeLine(FakeLineState):
    """A FakeLineState with a uvicorn server in front of it (see state.py for the test API)."""

    def __init__(
        self, *, openapi_check: bool | None = None, strict_reply_tokens: bool = False
    ) -> None:
        super().__init__(strict_reply_tokens=strict_reply_tokens)
        self.app = create_fake_line_app(self, openapi_check=openapi_check)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        """What LINE_API_BASE_URL should be for the bot under test."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FakeLine:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Accepted sockets inherit this on Linux. Without it uvicorn's separate header and
        # body writes meet Nagle + delayed ACK and every answer waits ~40 ms.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            log_config=None,  # leave the test process's logging alone
            log_level="warning",
            access_log=False,
            lifespan="off",
            ws="none",
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="fake-line", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("fake LINE server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = None
        self._thread = None

    def __enter__(self) -> FakeLine:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
