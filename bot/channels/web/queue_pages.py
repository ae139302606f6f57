"""The triage queue: the page that refreshes itself, and taking or finishing an item."""

from __future__ import annotations

from bot.channels.web.page import Page, Refusal
from bot.clinic.booking import NOTE_MAX
from bot.clinic.queue import FILTERS, QueueItem


class QueuePage(Page):
    """The queue: what needs a person, most urgent first, with counts per filter."""

    async def get(self) -> None:
        """The page, or only its rows for the page's own refresh."""
        chosen = self.get_query_argument("filter", "open")
        chosen = chosen if chosen in FILTERS else "open"
        view = await self.dash.queue.view(chosen, self.me.staff_id)
        template = "queue_rows.html" if self.get_query_argument("rows", "") else "queue.html"
        self.page(template, view=view, chosen=chosen, filters=FILTERS,
                  now=self.dash.clock(), kind=self._kind)

    def _kind(self, item: QueueItem) -> str:
        key = f"queue.kind.{item.kind}"
        return self.t(key) if self.dash.texts.has(key) else self.t("queue.kind.other")


class QueueAction(Page):
    """Take an item, or mark it done with a note."""

    async def post(self, item_id: str, action: str) -> None:
        """Act, record it, and go back to the queue as it was filtered."""
        number, now = int(item_id), self.dash.clock()
        item = await self.dash.tables.item(number)
        if item is None:
            raise Refusal(404, "refusal.not_found")
        if action == "take":
            await self.dash.queue.take(number, self.me.staff_id, now)
        else:
            note = self.get_body_argument("note", "").strip()[:NOTE_MAX]
            await self.dash.queue.done(number, self.me.staff_id, now, note)
        await self.dash.audit(self.me, f"queue_{action}", item.chat_id, str(number))
        chosen = self.get_body_argument("filter", "open")
        self.redirect(f"/?filter={chosen if chosen in FILTERS else 'open'}#item-{number}",
                      status=303)
