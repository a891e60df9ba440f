"""Marugoto's knowledge: reviewed data (YAML in ``knowledge/data``) and pure functions on it.

windows       the window catalogue (fixed ids, facts with seed sources)
crisis_lines  crisis phone lines with machine-readable hours
calendar      business days (祝日, 年末年始) and opening hours in Asia/Tokyo
booking       bookable services and slot generation
lexicon       the routing vocabulary (owned by triage)

This package imports nothing else of ours and does no I/O beyond reading its own files.
"""
