"""Delivery of outbox rows: a dispatcher that claims due rows, paces and sends them."""
