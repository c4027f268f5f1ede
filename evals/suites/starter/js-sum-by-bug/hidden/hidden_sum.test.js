import { test } from "node:test";
import assert from "node:assert/strict";
import { sumBy } from "./stats.js";

test("sumBy of nothing is 0", () => assert.equal(sumBy([], "n"), 0));
test("sumBy of one item", () => assert.equal(sumBy([{ n: 7 }], "n"), 7));
test("sumBy of many", () => assert.equal(sumBy([{ n: 1.5 }, { n: 2 }, { n: -1 }], "n"), 2.5));
