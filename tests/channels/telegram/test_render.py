"""Replies as Telegram messages: escaped values, 4096-character pieces, short callback data."""

from __future__ import annotations

from bot.channels.telegram.render import MAX_TEXT, answer_data, render, split_html, visible_length
from bot.content import Content
from bot.conversation import Reply
from bot.dialogue.turn import Message, Option, Question, Text, Turn


def test_a_short_text_is_one_piece() -> None:
    assert split_html("<b>Hello</b>\n\nworld") == ["<b>Hello</b>\n\nworld"]


def test_a_long_text_splits_at_paragraphs_and_every_piece_fits() -> None:
    paragraphs = [f"<b>{i}</b> " + "word " * 300 for i in range(12)]
    pieces = split_html("\n\n".join(paragraphs))

    assert len(pieces) > 1
    assert all(visible_length(piece) <= MAX_TEXT for piece in pieces)
    # Nothing lost, nothing cut inside a paragraph (so no tag is ever split).
    assert "\n\n".join(pieces) == "\n\n".join(paragraphs)


def test_a_paragraph_over_the_limit_splits_at_lines_then_plainly() -> None:
    lines = ["line " * 500] * 4 + ["x" * 9000]
    pieces = split_html("\n".join(lines))

    assert all(visible_length(piece) <= MAX_TEXT for piece in pieces)
    assert "".join(pieces).replace("\n", "") == "".join(lines)


def test_length_counts_what_telegram_counts() -> None:
    assert visible_length("<b>a &amp; b</b>") == 5
    assert visible_length("😀") == 2  # one emoji is two UTF-16 code units


def test_values_are_escaped_and_buttons_carry_their_question(content: Content) -> None:
    question = Question("age", "age", Text("q.age"), (Option(Text.raw("<1>"), "1"),),
                        Text("app.hint.choice"), seq=7)
    note = Message((Text("app.unknown_command", {"command": "/<script>"}),))
    [first, last] = render(Reply("en", Turn((note,), question)), content.catalog)

    assert "&lt;script&gt;" in first.text
    assert last.keyboard is not None
    [[button]] = last.keyboard.inline_keyboard
    assert button.text == "<1>"  # labels are plain text in Telegram, not HTML
    assert button.callback_data == answer_data(7, "1") == "a:7:1"


def test_a_plain_cut_fills_pieces_to_the_limit_counting_utf16() -> None:
    pieces = split_html("😀" * 3000)  # 6000 UTF-16 code units, no break anywhere

    assert [visible_length(piece) for piece in pieces] == [4096, 1904]
