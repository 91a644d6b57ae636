class PlaygroundError(Exception):
    """A problem the user can fix (bad flag, missing data, corrupt checkpoint).

    The message is one line that says what went wrong and what to do about it.
    """
