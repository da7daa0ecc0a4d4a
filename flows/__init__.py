"""Qualibot's pure core: flow specs, the engine, typed-answer understanding and scoring.

Nothing here does I/O or imports an adapter library; see ARCHITECTURE in the README.
"""
