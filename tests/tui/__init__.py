"""Pilot tests, SVG snapshots and builders for the Textual app."""
