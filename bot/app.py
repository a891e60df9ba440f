"""The service, composed: FastAPI app factory with a lifespan that connects the database,
upgrades it (embedded default), creates the LINE client and runs the background loops of
its role.

Roles (`marugoto serve --role`): `all` (one process: web + worker + sender + scheduler, the
pilot's SQLite set-up), `web` (webhook and pages only), `worker` (inbox worker and outbox
sender), `scheduler` (timed jobs). Claiming is safe with any number of each.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Literal

from fastapi import FastAPI
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from bot.db import Database
from bot.logging import exception_summary
from bot.migrate import upgrade
from bot.scheduler import Scheduler
from bot.settings import Settings, get_settings
from bot.webhook import IngestQueue, crisis_check, line_webhook
from bot.webhook_first import WebhookFirst
from bot.worker.inbox import InboxWorker
from bot.worker.sender import Sender
from triage import warm_up as warm_up_triage

log = logging.getLogger("marugoto.app")

Role = Literal["all", "web", "worker", "scheduler"]
ROLES: tuple[Role, ...] = ("all", "web", "worker", "scheduler")
WEBHOOK_PATH = "/line/webhook"


def create_app(
    settings: Settings | None = None,
    *,
    database: Database | None = None,
    role: Role = "all",
    migrate: bool | None = None,
    inbox_worker: InboxWorker | None = None,
) -> FastAPI:
    """The ASGI app. `database` is used as given (and not disposed) when passed; otherwise
    one is connected from `settings.database_url`. `migrate` defaults to True for `all`.
    `inbox_worker` replaces the default worker (tests inject crash points or a slow step)."""
    settings = settings or get_settings()
    if settings.demo:  # the built-in fake LINE API, and a secret to sign with (bot.simulator)
        from bot.simulator import demo_settings

        settings = demo_settings(settings)
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    production = settings.environment == "production"

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = database or Database.connect(settings.database_url)
        if migrate if migrate is not None else role == "all":
            await run_in_threadpool(upgrade, db)
        app.state.database = db
        app.state.ingest = IngestQueue(db)
        if role in ("all", "web"):
            from admin import ensure_first_admin

            await run_in_threadpool(ensure_first_admin, db, settings)
        stop = asyncio.Event()
        tasks: list[asyncio.Task[Any]] = []
        line = None
        if role in ("all", "worker"):
            from bot.line_api import create_line_client

            # Ready means able to answer: the first resident must not pay the engine's load.
            await run_in_threadpool(warm_up_triage)

            line = create_line_client(settings)
            app.state.line = line
            sender = Sender(db, line, settings=settings)
            worker = inbox_worker or InboxWorker(
                db,
                lease_seconds=settings.inbox_lease_seconds,
                batch_size=settings.inbox_batch_size,
                poll_seconds=settings.worker_poll_seconds,
            )
            # New answers wake the sender at once instead of at its next poll.
            worker.add_answer_listener(sender.notify)
            tasks.append(asyncio.create_task(sender.run(stop), name="outbox-sender"))
            worker.show_loading = line.show_loading
            worker.webhook_first = sender.webhook_first = app.state.webhook_first
            app.state.inbox_worker = worker
            app.state.wake_inbox = worker.wake
            tasks.append(asyncio.create_task(worker.run(stop), name="inbox-worker"))
        if role in ("all", "scheduler"):
            scheduler = Scheduler(db, settings)
            tasks.append(asyncio.create_task(scheduler.run(stop), name="scheduler"))
        log.info("marugoto started: role=%s tasks=%d", role, len(tasks))
        try:
            yield
        finally:
            stop.set()
            # Let each loop finish its round; leases cover anything cut short (H5).
            done, pending = await asyncio.wait(tasks, timeout=15) if tasks else (set(), set())
            for task in pending:
                task.cancel()
            for task in done:
                if not task.cancelled() and task.exception() is not None:
                    log.error(
                        "%s ended with %s",
                        task.get_name(),
                        exception_summary(task.exception()),  # type: ignore[arg-type]
                    )
            if line is not None:
                await line.close()
            if database is None:
                db.dispose()
            log.info("marugoto stopped: role=%s", role)

    app = MarugotoApp(
        title="Marugoto",
        lifespan=lifespan,
        docs_url=None if production else "/docs",
        redoc_url=None,
        openapi_url=None if production else "/openapi.json",
    )
    app.state.settings = settings
    app.state.role = role
    app.state.crisis_check = crisis_check
    app.state.wake_inbox = None
    app.state.webhook_first = WebhookFirst()
    app.add_route("/healthz", healthz, methods=["GET"], include_in_schema=False)
    if role in ("all", "web"):
        # POSTs are answered by MarugotoApp before the middleware stack; the route stays
        # so that other methods get their 405 (A13).
        app.webhook_direct = True
        app.add_route(WEBHOOK_PATH, line_webhook, methods=["POST"], include_in_schema=False)
        from admin import mount as mount_admin

        mount_admin(app, settings, database=database)
        if settings.demo:
            from bot.simulator import router as simulator_router

            app.include_router(simulator_router(settings))
    return app


class MarugotoApp(FastAPI):
    """FastAPI, with `POST /line/webhook` answered before the middleware stack.

    The webhook is the one hot path (LINE waits for its 200, and under load every request
    is one): the admin's middlewares (security headers, body limits, error pages, routing
    through every admin route) add nothing to it but cost about as much CPU as the webhook
    itself. The handler reads the raw body by hand (size cap, signature) and answers every
    failure itself; anything else on this path (GET, …) goes through the stack as usual.
    """

    webhook_direct = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            self.webhook_direct
            and scope["type"] == "http"
            and scope["method"] == "POST"
            and scope["path"] == WEBHOOK_PATH
        ):
            scope["app"] = self
            first: WebhookFirst = self.state.webhook_first
            first.enter()
            try:
                response = await line_webhook(Request(scope, receive))
                await response(scope, receive, send)
            finally:
                first.leave()
            return
        await super().__call__(scope, receive, send)


async def healthz(request: Request) -> Response:
    database: Database = request.app.state.database

    def ping() -> None:
        with database.read() as session:
            session.execute(text("SELECT 1"))

    try:
        await run_in_threadpool(ping)
    except Exception as error:
        log.error("healthz: database unavailable (%s)", type(error).__name__)
        return JSONResponse({"ok": False, "database": "down"}, status_code=503)
    return JSONResponse({"ok": True, "role": request.app.state.role})
