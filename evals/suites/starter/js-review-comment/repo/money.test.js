import { test } from "node:test";
import assert from "node:assert/strict";
import { formatPrice } from "./money.js";

test("whole dollars", () => assert.equal(formatPrice(3), "$3.00"));
