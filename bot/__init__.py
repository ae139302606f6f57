"""Screening and follow-up of lumbar disc herniation on Telegram."""
