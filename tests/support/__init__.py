"""Helpers for the test suite: a real server process and real clients."""
