"""Small text helpers."""


def truncate(text, width):
    """Cut text to width characters, ending with an ellipsis when cut."""
    return text if len(text) <= width else text[: width - 1] + "…"
