"""Subcommands of `qualibot`; each imports only what it needs, when it runs."""
