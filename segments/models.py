"""Segments (SPEC F1.12–F1.18): built by the segments work."""
