"""Errors a user can cause, each carrying a one-line message that says what to do."""


class UserError(Exception):
    """A problem with the user's input or set-up; the message is shown as is, without a traceback."""
