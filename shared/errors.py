import errno
import re


class PlaygroundError(Exception):
    """A problem the user can fix (bad flag, missing data, corrupt checkpoint).

    The message is one line that says what went wrong and what to do about it.
    """


def reason(error: BaseException, limit: int = 100) -> str:
    """A short one-line reason for an exception, to put inside a PlaygroundError message.

    Library messages run over several lines and paragraphs ("Weights only load failed. In PyTorch 2.6
    ..."), and some are bare codes ("[Errno 101]"): keep the first sentence, cut at a word boundary,
    and spell out OS error codes.
    """
    inner = getattr(error, "reason", None)  # urllib's URLError wraps the OSError that explains it
    if isinstance(inner, BaseException):
        return reason(inner, limit)
    if isinstance(error, OSError) and error.errno is not None:
        text = error.strerror or errno.errorcode.get(error.errno, f"OS error {error.errno}")
    elif isinstance(error, KeyError):
        text = f"missing key {error}"
    else:
        text = " ".join(str(error).split())
        text = re.sub(r"^\[Errno \d+\]\s*", "", text)
    text = re.split(r"(?<=[.!?])\s", text, maxsplit=1)[0].rstrip(".")
    if not text or text.strip("()[]0123456789 -") == "":
        text = f"{type(error).__name__} {text}".strip()
    if len(text) > limit:
        text = text[:limit].rsplit(" ", 1)[0].rstrip(",;:") + " ..."
    return text
