"""``ldh-bot run``: the python-telegram-bot Application, by long polling or webhook."""

from __future__ import annotations

import asyncio
import logging
import sys
from urllib.parse import urlparse

from telegram import BotCommand, Update
from telegram.ext import Application, ApplicationBuilder, ContextTypes, TypeHandler

from bot.channels.telegram.handlers import TelegramChannel
from bot.channels.telegram.polling import run_polling
from bot.channels.telegram.sender import TelegramSender
from bot.channels.telegram.webhook import run_webhook
from bot.clinic.charts import chart_source
from bot.clinic.telegram import set_staff_commands, staff_channel
from bot.config import Settings, SettingsError, load_settings
from bot.content import Content, load_content
from bot.conversation import Conversations
from bot.dialogue.texts import DEFAULT_LANGUAGE, LANGUAGES
from bot.dialogue.turn import Text
from bot.reminders.dispatcher import Dispatcher
from bot.reminders.pacing import CHAT_BURST, DEFAULT_RATE, SAFE_CHAT_INTERVAL, Pace, Pacer
from bot.reminders.postgres_pacer import PostgresPacer
from bot.reminders.settings import send_rate
from bot.storage import Store, open_store
from bot.storage.housekeeping import prune_forever
from bot.storage.postgres import PostgresStore

log = logging.getLogger(__name__)

COMMANDS = (
    "start", "back", "restart", "checkin", "reminders", "help", "language", "mydata", "forget",
)
# Many chats are served at once; the channel's per-chat lock keeps each chat in order.
CONCURRENT_UPDATES = 64


def _file_url(api_url: str) -> str:
    """Telegram serves files from ``/file/bot<token>`` beside ``/bot<token>``."""
    head, _, _ = api_url.rstrip("/").rpartition("/bot")
    return f"{head}/file/bot" if head else api_url


def shared_pace(store: Store, url: str, rate: float) -> Pace:
    """One budget for replies and reminders: through the database when it is PostgreSQL."""
    if isinstance(store, PostgresStore):
        return PostgresPacer(url, rate)  # several processes may serve one bot: pace as one
    # SQLite is one process's database: the budget lives in the process.
    return Pacer(rate, chat_interval=SAFE_CHAT_INTERVAL, chat_burst=CHAT_BURST)


def build_application(
    settings: Settings, content: Content, store: Store, rate: float = DEFAULT_RATE
) -> Application:  # type: ignore[type-arg]  # PTB's Application generics are for custom contexts
    """The Application with every handler wired to the conversation, and the outbox dispatcher."""
    conversations = Conversations(content, store, clinic_chat_id=settings.clinic_chat_id,
                                  clinic_language=settings.clinic_language,
                                  timezone=settings.timezone)
    staff = staff_channel(settings, content, store, conversations.clock)
    pace = shared_pace(store, settings.database_url, rate)
    channel = TelegramChannel(conversations, staff=staff, pace=pace)
    dispatcher: Dispatcher | None = None  # built once the bot it sends with is initialised

    def wake() -> None:
        # Only an update that queued something wakes the dispatcher: most queue nothing.
        if dispatcher is not None:
            dispatcher.wake()

    store.on_enqueued(wake)
    housekeeping: list[asyncio.Task[None]] = []

    async def on_start(app: Application) -> None:  # type: ignore[type-arg]  # see above
        nonlocal dispatcher
        await store.open()
        await pace.open()
        patient_commands = await _set_commands(app, content)
        if staff is not None:
            await set_staff_commands(app.bot, staff, patient_commands[settings.clinic_language])
        # Started once the store is open: rows overdue from before a restart go out at once.
        sender = TelegramSender(app.bot, content.catalog, charts=chart_source(store))
        dispatcher = Dispatcher(store, sender, pacer=pace)
        dispatcher.start()
        housekeeping.append(asyncio.create_task(prune_forever(store, conversations.clock)))
        log.info("ready: %d dialogue(s) loaded", len(content.engines))

    async def on_stop(app: Application) -> None:  # type: ignore[type-arg]  # see above
        del app
        for task in housekeeping:
            task.cancel()
        # While the bot can still send, and always before the store closes.
        if dispatcher is not None:
            await dispatcher.stop()

    async def on_shutdown(app: Application) -> None:  # type: ignore[type-arg]  # see above
        await on_stop(app)  # again here: a start that failed half-way never reaches post_stop
        await pace.close()
        await store.close()

    app = (
        ApplicationBuilder()
        .token(settings.token)
        .base_url(settings.api_url)
        .base_file_url(_file_url(settings.api_url))
        .concurrent_updates(CONCURRENT_UPDATES)
        .post_init(on_start)
        .post_stop(on_stop)
        .post_shutdown(on_shutdown)
        .build()
    )
    app.add_handler(TypeHandler(Update, channel.on_update))
    app.add_error_handler(_on_error)
    return app


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
    log.error("telegram error: %s", type(context.error).__name__, exc_info=context.error)


def _configure_logging() -> None:
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # httpx logs every request URL, and the URL carries the bot token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # transitions logs every state change at INFO: one line per answer, of no use to operators.
    logging.getLogger("transitions").setLevel(logging.WARNING)


def main() -> int:
    """Start serving; SIGTERM or SIGINT stops cleanly after the updates in hand."""
    _configure_logging()
    try:
        settings = load_settings()
        rate = send_rate()
    except SettingsError as error:
        print(f"ldh-bot run: cannot start:\n{error}", file=sys.stderr)  # noqa: T201  # the operator reads this
        return 2
    content = load_content()
    store = open_store(settings.database_url)
    app = build_application(settings, content, store, rate)
    if settings.webhook_url is None:
        asyncio.run(run_polling(app))
    else:
        host, port = settings.webhook_listen
        asyncio.run(run_webhook(
            app, host=host, port=port, path=urlparse(settings.webhook_url).path,
            url=settings.webhook_url, secret=settings.webhook_secret or "",
        ))
    return 0
