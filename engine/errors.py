"""Errors a user can cause, each carrying a one-line message that says what to do."""


class UserError(Exception):
    """A problem with the user's input or set-up; shown as one line, without a traceback."""
