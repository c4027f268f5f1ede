"""What a customer pays."""

from shop import config


def sale_price(price):
    """The price with the current sale's discount applied, rounded to cents."""
    discount = config.SALE_DISCOUNT
    return round(price * (1 - discount / 100), 2)
