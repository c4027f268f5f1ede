import { test } from "node:test";
import assert from "node:assert/strict";
import { formatPrice } from "./money.js";

test("cents and grouping", () => assert.equal(formatPrice(1234.5), "$1,234.50"));
test("negative", () => assert.equal(formatPrice(-3), "-$3.00"));
test("rounding", () => assert.equal(formatPrice(0.125), "$0.13"));
test("other currency", () => assert.equal(formatPrice(5, "EUR"), "€5.00"));
