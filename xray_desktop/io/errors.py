"""The one exception the loader may raise."""


class StudyLoadError(Exception):
    """A study could not be opened; ``str(err)`` is a one-line reason for the user."""
