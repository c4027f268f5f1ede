// Prices for display.

export function formatPrice(amount) {
  return "$" + (Number.isInteger(amount) ? amount + ".00" : String(amount));
}
