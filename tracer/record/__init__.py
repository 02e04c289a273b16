"""Recordings: a header line, then one event per line; versions; reading damaged files."""
