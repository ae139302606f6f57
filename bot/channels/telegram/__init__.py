"""The Telegram channel: python-telegram-bot application, handlers and rendering."""
