"""Errors a user can cause, each carrying a one-line message that says what to do."""

from engine import messages


class UserError(Exception):
    """A problem with the user's input or set-up; shown as one line, without a traceback.

    Raised with a plain English message, or with a catalogue key and its values
    (`UserError(key="project.exists", name=name)`), which each face shows in its reader's
    language; str(error) is English either way (logs, tests)."""

    def __init__(self, message: str | None = None, *, key: str | None = None, **params):
        self.key = key
        self.params = params
        super().__init__(messages.text(key, **params) if key else message)

    def text(self, language: str) -> str:
        """The message in `language` (English for a message without a key)."""
        return messages.text(self.key, language, **self.params) if self.key else str(self)
