"""``ldh-bot run``: the python-telegram-bot Application, by long polling or webhook."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from telegram import BotCommand, Update
from telegram.ext import Application, ApplicationBuilder, ContextTypes, TypeHandler
from telegram.request import BaseRequest

from bot.channels.telegram.counting_request import CountingRequest
from bot.channels.telegram.handlers import TelegramChannel
from bot.channels.telegram.sender import TelegramSender
from bot.channels.telegram.staff import set_staff_commands, staff_channel
from bot.channels.telegram.startup import serve
from bot.channels.web.serve import WebChannel
from bot.channels.web.settings import WebSettings, web_settings
from bot.clinic.appointment_menu import MENU as APPOINTMENT_MENU
from bot.clinic.charts import chart_source
from bot.config import Settings, SettingsError
from bot.content import DIALOGUES_DIR, Content, load_content
from bot.conversation import Conversations
from bot.dialogue.texts import DEFAULT_LANGUAGE, LANGUAGES
from bot.dialogue.turn import Text
from bot.logsafe import use_salt
from bot.ops import metrics
from bot.ops.health import Health
from bot.ops.logs import configure_logging
from bot.ops.settings import read_settings
from bot.reminders.dispatcher import Dispatcher
from bot.reminders.pacing import CHAT_BURST, DEFAULT_RATE, SAFE_CHAT_INTERVAL, Pace, Pacer
from bot.reminders.postgres_pacer import PostgresPacer
from bot.storage import Store, open_store
from bot.storage.housekeeping import prune_forever
from bot.storage.postgres import PostgresStore

log = logging.getLogger(__name__)

COMMANDS = (
    "start", "back", "restart", "details", "checkin", "reminders", "help", "language", "mydata",
    "forget",
)
# Read by ``run`` from the working directory; variables set in the environment win over it.
ENV_FILE = Path(".env")
# Many chats are served at once; the channel's per-chat lock keeps each chat in order.
CONCURRENT_UPDATES = 64


def _file_url(api_url: str) -> str:
    """Telegram serves files from ``/file/bot<token>`` beside ``/bot<token>``."""
    head, _, _ = api_url.rstrip("/").rpartition("/bot")
    return f"{head}/file/bot" if head else api_url


class _Waker:
    """Wakes the dispatcher, once there is one; the store calls it after a commit that queued."""

    def __init__(self) -> None:
        self.dispatcher: Dispatcher | None = None

    def __call__(self) -> None:
        # Only an update that queued something wakes the dispatcher: most queue nothing.
        if self.dispatcher is not None:
            self.dispatcher.wake()


def shared_pace(store: Store, url: str, rate: float) -> Pace:
    """One budget for replies and reminders: through the database when it is PostgreSQL."""
    if isinstance(store, PostgresStore):
        return PostgresPacer(url, rate)  # several processes may serve one bot: pace as one
    # SQLite is one process's database: the budget lives in the process.
    return Pacer(rate, chat_interval=SAFE_CHAT_INTERVAL, chat_burst=CHAT_BURST)


def build_application(  # noqa: PLR0913  # health and the bench's stand-ins are keyword-only extras
    settings: Settings, content: Content, store: Store, rate: float = DEFAULT_RATE, *,
    health: Health | None = None, request: BaseRequest | None = None, pace: Pace | None = None,
    web: WebSettings | None = None,
) -> Application:  # type: ignore[type-arg]  # PTB's Application generics are for custom contexts
    """The Application with every handler wired to the conversation, and the outbox dispatcher.

    ``request`` replaces the network and ``pace`` Telegram's pace: the bench answers Bot API
    calls in-process and times the work of an update, not Telegram's waits.
    """
    conversations = Conversations(content, store, clinic_chat_id=settings.clinic_chat_id,
                                  clinic_language=settings.clinic_language,
                                  timezone=settings.timezone, menus=(APPOINTMENT_MENU,))
    dashboard = _dashboard(web, settings, content, store, conversations.clock)
    staff = staff_channel(settings, content, store, conversations.clock, dashboard)
    pace = pace or shared_pace(store, settings.database_url, rate)
    channel = TelegramChannel(conversations, staff=staff, pace=pace)
    dispatcher: Dispatcher | None = None  # built once the bot it sends with is initialised

    waker = _Waker()
    store.on_enqueued(waker)
    housekeeping: list[asyncio.Task[None]] = []

    async def on_start(app: Application) -> None:  # type: ignore[type-arg]  # see above
        nonlocal dispatcher
        await store.open()
        await pace.open()
        await _switch(dashboard, on=True)
        patient_commands = await _set_commands(app, content)
        if staff is not None:
            await set_staff_commands(app.bot, staff, patient_commands[settings.clinic_language])
        # Started once the store is open: rows overdue from before a restart go out at once.
        sender = TelegramSender(app.bot, content.catalog, charts=chart_source(store))
        dispatcher = Dispatcher(store, sender, pacer=pace)
        waker.dispatcher = dispatcher
        dispatcher.start()
        if health is not None:
            health.track(dispatcher)
        housekeeping.append(asyncio.create_task(
            prune_forever(store, conversations.clock, settings.retention)))
        # One line says what this process serves: mode, bot, database, dashboard, ops.
        log.info("ready: %s; %d dialogue(s) loaded", settings.describe(app.bot.username),
                 len(content.engines))

    async def on_stop(app: Application) -> None:  # type: ignore[type-arg]  # see above
        del app
        for task in housekeeping:
            task.cancel()
        # While the bot can still send, and always before the store closes.
        if dispatcher is not None:
            await dispatcher.stop()

    async def on_shutdown(app: Application) -> None:  # type: ignore[type-arg]  # see above
        await on_stop(app)  # again here: a start that failed half-way never reaches post_stop
        await _switch(dashboard, on=False)
        await pace.close()
        await store.close()

    async def on_update(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        with metrics.handling_update():
            await channel.on_update(update, context)

    app = (
        ApplicationBuilder()
        .token(settings.token)
        .base_url(settings.api_url)
        .base_file_url(_file_url(settings.api_url))
        .concurrent_updates(CONCURRENT_UPDATES)
        # Every Bot API call passes through it, so 429s and network faults are counted.
        .request(request or CountingRequest(connection_pool_size=256))
        .get_updates_request(request or CountingRequest(connection_pool_size=1))
        .post_init(on_start)
        .post_stop(on_stop)
        .post_shutdown(on_shutdown)
        .build()
    )
    app.add_handler(TypeHandler(Update, on_update))
    app.add_error_handler(_on_error)
    return app


def _dashboard(web: WebSettings | None, settings: Settings, content: Content, store: Store,
               clock: Callable[[], datetime]) -> WebChannel | None:
    """The dashboard, served in this event loop beside the bot, when it is switched on."""
    if web is None or not web.enabled:
        return None
    return WebChannel(web, content, store, staff_ids=settings.staff_ids,
                      timezone=settings.timezone, clock=clock,
                      database_url=settings.database_url)


async def _switch(dashboard: WebChannel | None, *, on: bool) -> None:
    """Start or stop the dashboard, if there is one."""
    if dashboard is not None:
        await (dashboard.start() if on else dashboard.stop())


async def _set_commands(
    app: Application,  # type: ignore[type-arg]  # see above
    content: Content,
) -> dict[str, list[BotCommand]]:
    """Register the command menu in every language (the default in English); return them."""
    menus: dict[str, list[BotCommand]] = {}
    for language in LANGUAGES:
        menus[language] = [BotCommand(name, content.catalog.plain(Text(f"cmd.{name}"), language))
                           for name in COMMANDS]
        code = None if language == DEFAULT_LANGUAGE else language
        await app.bot.set_my_commands(menus[language], language_code=code)
    return menus


async def _on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Errors outside a conversation step (network, Telegram) are logged without patient data."""
    del update
    metrics.error("telegram")
    log.error("telegram error: %s", type(context.error).__name__, exc_info=context.error)


def main() -> int:
    """Start serving; SIGTERM or SIGINT stops cleanly after the updates in hand."""
    try:
        run = read_settings(env_file=ENV_FILE)
    except SettingsError as error:
        # One fault is one line; several are listed under the header, one per line.
        joiner = "\n" if "\n" in str(error) else " "
        print(f"ldh-bot run: cannot start:{joiner}{error}", file=sys.stderr)  # noqa: T201  # the operator reads this
        return 2
    web = web_settings(run)
    configure_logging(run.ops.log_format, run.secrets)
    logging.getLogger().setLevel(run.log_level)
    use_salt(run.log_salt)
    for warning in run.warnings():
        log.warning("%s", warning)
    content = load_content(run.dialogues_dir or DIALOGUES_DIR,
                           emergency_number=run.bot.emergency_number,
                           urgent_contact=run.urgent_contact)
    store = open_store(run.bot.database_url)
    health = Health(store.probe_write)  # a write, rolled back: what an update needs
    app = build_application(run.bot, content, store, run.send_rate, health=health, web=web)
    return asyncio.run(serve(app, run, health))
