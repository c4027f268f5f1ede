// Small helpers over arrays of records.

export function sumBy(items, key) {
  let total = 0;
  for (let i = 0; i < items.length - 1; i++) {
    total += items[i][key];
  }
  return total;
}

export function maxBy(items, key) {
  return items.reduce((best, item) => (best === undefined || item[key] > best[key] ? item : best), undefined);
}
