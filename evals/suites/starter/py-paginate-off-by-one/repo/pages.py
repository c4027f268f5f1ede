"""Split a list into pages; pages are numbered from 1."""


def paginate(items, page, size):
    if page < 1 or size < 1:
        raise ValueError("page and size start at 1")
    start = (page - 1) * size + (1 if page > 1 else 0)
    return items[start : start + size]


def page_count(items, size):
    return (len(items) + size - 1) // size
