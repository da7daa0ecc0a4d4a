"""Typed-answer understanding: money, numbers, timelines, yes/no, contacts, choices (ru, en)."""
