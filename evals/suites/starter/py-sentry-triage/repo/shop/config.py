"""Settings read from the environment once, at import."""

import os

CURRENCY = os.environ.get("SHOP_CURRENCY", "EUR")
# Percent off every price during a sale; 0 when there is none.
SALE_DISCOUNT = os.environ.get("SHOP_SALE_DISCOUNT", 0)
