import assert from "node:assert/strict";
import { test } from "node:test";
import { constantTimeEqual } from "./encoding.ts";

void test("constantTimeEqual is exact equality: same strings only, any difference or length mismatch is false", () => {
  assert.equal(constantTimeEqual("", ""), true);
  assert.equal(constantTimeEqual("ab12", "ab12"), true);
  assert.equal(constantTimeEqual("ab12", "ab13"), false);
  assert.equal(constantTimeEqual("xb12", "ab12"), false);
  assert.equal(constantTimeEqual("ab12", "ab1"), false);
  assert.equal(constantTimeEqual("ab1", "ab12"), false);
  assert.equal(constantTimeEqual("AB12", "ab12"), false);
});
