import { test } from "node:test";
import assert from "node:assert/strict";
import { chunk } from "./arrays.js";

test("even split", () => assert.deepEqual(chunk([1, 2, 3, 4], 2), [[1, 2], [3, 4]]));
test("last piece shorter", () => assert.deepEqual(chunk([1, 2, 3, 4, 5], 2), [[1, 2], [3, 4], [5]]));
test("empty", () => assert.deepEqual(chunk([], 3), []));
test("input untouched", () => {
  const input = [1, 2, 3];
  chunk(input, 1);
  assert.deepEqual(input, [1, 2, 3]);
});
test("bad sizes", () => {
  for (const size of [0, -1, 1.5, NaN]) assert.throws(() => chunk([1], size), RangeError);
});
