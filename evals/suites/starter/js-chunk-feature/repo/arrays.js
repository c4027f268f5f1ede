// Array helpers.

export function unique(items) {
  return [...new Set(items)];
}
