"""A plain-text report of orders."""


def header(widths):
    names = ["id", "customer", "total"]
    return " | ".join(str(c).ljust(w) for c, w in zip(names, widths))


def order_line(order, widths):
    cells = [order["id"], order["customer"], f"{order['total']:.2f}"]
    return " | ".join(str(c).ljust(w) for c, w in zip(cells, widths))


def footer(orders, widths):
    cells = ["", "total", f"{sum(o['total'] for o in orders):.2f}"]
    return " | ".join(str(c).ljust(w) for c, w in zip(cells, widths))


def report(orders):
    widths = [4, 10, 8]
    return "\n".join([header(widths), *(order_line(o, widths) for o in orders), footer(orders, widths)])
