"""Referentials that enrich every log event with what the SI knows.

Each module turns one source of truth (the SUPANN directory, the network plan, user-agent
strings, the French academic calendar) into a pyarrow table keyed by a DISTINCT value, so the
warehouse joins it once per value instead of calling Python once per log line.
"""
