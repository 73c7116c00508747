import assert from "node:assert/strict";
import { test } from "node:test";
import { textStats } from "./text-tools-runtime.ts";

test("text_stats counts words, code points and lines", () => {
  assert.deepEqual(textStats(""), { words: 0, characters: 0, lines: 0 });
  assert.deepEqual(textStats("one"), { words: 1, characters: 3, lines: 1 });
  assert.deepEqual(textStats("  two  words \n\nthird\r\nline"), { words: 4, characters: 26, lines: 4 });
  assert.deepEqual(textStats("héllo 😀"), { words: 2, characters: 7, lines: 1 }, "emoji count as one character");
});
