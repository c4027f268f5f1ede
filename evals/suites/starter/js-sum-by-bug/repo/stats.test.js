import { test } from "node:test";
import assert from "node:assert/strict";
import { maxBy, sumBy } from "./stats.js";

test("sumBy adds every item", () => {
  assert.equal(sumBy([{ n: 1 }, { n: 2 }, { n: 3 }], "n"), 6);
});

test("maxBy", () => {
  assert.deepEqual(maxBy([{ n: 1 }, { n: 5 }, { n: 3 }], "n"), { n: 5 });
});
