"""Repositories: data functions that take a session and never commit."""
