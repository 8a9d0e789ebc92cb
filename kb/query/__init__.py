"""Queries: parsing (``parse``), planning (``plan``) and "did you mean" (``suggest``).

Nothing here knows the index engine: a plan says what to match, with which
alternatives, boosts and origins; an engine compiles it.
"""
