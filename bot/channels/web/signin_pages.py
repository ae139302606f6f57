"""Signing in with a one-time link, signing out, and choosing the language."""

from __future__ import annotations

import re

from bot.channels.web.page import Page, Refusal
from bot.dialogue.texts import LANGUAGES

_LOCAL_PATH = re.compile(r"/(?![/\\])[\x21-\x7e]*")


class SignInPage(Page):
    """A one-time link: GET shows who it signs in and consumes nothing; POST signs in."""

    public = True

    async def get(self, token: str) -> None:
        """Show "Sign in as NAME", or why the link cannot be used."""
        if not self.dash.signin.attempts.allow(self.request.remote_ip):
            raise Refusal(429, "refusal.too_many")
        staff = await self.dash.signin.peek(token, self.dash.clock())
        if staff is None:
            raise Refusal(403, "refusal.link")
        self.page("signin.html", token=token, name=staff.shown)

    async def post(self, token: str) -> None:
        """Use the link once: a fresh session, its cookie, then the queue."""
        if not self.dash.signin.attempts.allow(self.request.remote_ip):
            raise Refusal(429, "refusal.too_many")
        now = self.dash.clock()
        started = await self.dash.signin.sign_in(token, now, None)
        if started is None:
            raise Refusal(403, "refusal.link")
        session, signed = started
        self.set_cookie(self.cookie_name, session, path="/", httponly=True,
                        samesite="Strict", secure=self.dash.secure)
        await self.dash.audit(signed, "sign_in")
        self.redirect("/", status=303)


class SignOut(Page):
    """End the session."""

    async def post(self) -> None:
        """Sign out and show the refusal page that says so."""
        await self.dash.signin.sign_out(self.me, self.dash.clock())
        await self.dash.audit(self.me, "sign_out")
        self.clear_cookie(self.cookie_name, path="/", secure=self.dash.secure)
        self.signed = None
        self.page("refusal.html", message=self.t("refusal.signed_out"))


class Language(Page):
    """Switch the person's language."""

    async def post(self) -> None:
        """Keep the choice with the session, and go back where the person was."""
        chosen = self.get_body_argument("language", "")
        if chosen in LANGUAGES:
            await self.dash.tables.set_language(self.me.session, chosen)
        back = self.get_body_argument("back", "/")
        # Only a path on this site: "//host" and "/\\host" would leave it.
        self.redirect(back if _LOCAL_PATH.fullmatch(back) else "/", status=303)
