"""HTTP adapter (FastAPI): widget chat, admin and Telegram webhook routes."""
