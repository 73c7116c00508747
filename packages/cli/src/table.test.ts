import assert from "node:assert/strict";
import { test } from "node:test";
import { formatFields, formatTable } from "./table.ts";

interface Row {
  name: string;
  count: number;
  note?: string;
}

const columns = [
  { header: "NAME", value: (row: Row) => row.name },
  { header: "COUNT", value: (row: Row) => row.count, align: "right" as const },
  { header: "NOTE", value: (row: Row) => row.note },
];

test("aligns columns to the widest cell, right-aligning numbers", () => {
  const text = formatTable(columns, [
    { name: "alpha", count: 5, note: "first" },
    { name: "b", count: 1234 },
  ]);
  assert.equal(text, ["NAME   COUNT  NOTE", "-----  -----  -----", "alpha      5  first", "b       1234"].join("\n") + "\n");
});

test("prints a placeholder for no rows", () => {
  assert.equal(formatTable(columns, []), "(none)\n");
  assert.equal(formatTable(columns, [], "no tenants"), "no tenants\n");
});

test("truncates long cells with an ellipsis and neutralises control characters", () => {
  const text = formatTable([{ header: "V", value: (row: { v: string }) => row.v, maxWidth: 8 }], [{ v: "0123456789abc" }, { v: "a\u001b[31mred\nx" }]);
  const lines = text.split("\n");
  assert.equal(lines[2], "0123456…");
  assert.ok(!text.includes("\u001b"), "no escape character survives");
  assert.equal(lines.length, 5, "a newline inside a cell does not add a line");
});

test("counts characters, not UTF-16 units, when aligning", () => {
  const text = formatTable([{ header: "X", value: (row: { x: string }) => row.x }, { header: "Y", value: () => "|" }], [{ x: "😀😀" }, { x: "ab" }]);
  const [, , first, second] = text.split("\n");
  assert.equal([...(first ?? "")].indexOf("|"), 4);
  assert.equal([...(second ?? "")].indexOf("|"), 4);
});

test("formatFields aligns labels and skips undefined values", () => {
  assert.equal(
    formatFields([
      ["tenant", "acme"],
      ["principal id", "sa_1"],
      ["skipped", undefined],
      ["count", 3],
    ]),
    "tenant:       acme\nprincipal id: sa_1\ncount:        3\n",
  );
});
