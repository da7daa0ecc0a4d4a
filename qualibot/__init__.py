"""Composition root: settings, logging, wiring and the `qualibot` command line."""
