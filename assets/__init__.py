"""Prompt templates, CSS and examples shipped with longwrite studio (data, no code)."""
