"""Channels carry the conversation to patients: Telegram and the terminal."""
