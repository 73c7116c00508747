/**
 * A tiny aligned-table formatter for terminal output: a header row, a dashed rule, then one line
 * per row; columns are as wide as their widest cell, numbers can be right-aligned, and long cells
 * are truncated with an ellipsis at `maxWidth`.
 */

/** One column of a table. */
export interface Column<Row> {
  readonly header: string;
  /** The cell text for a row. */
  readonly value: (row: Row) => string | number | boolean | null | undefined;
  /** Default `left`. */
  readonly align?: "left" | "right";
  /** Longest cell, in characters, before truncation; default 60. */
  readonly maxWidth?: number;
}

/** Formats rows as an aligned table; `emptyText` (default "(none)") when there are no rows. */
export function formatTable<Row>(columns: readonly Column<Row>[], rows: readonly Row[], emptyText = "(none)"): string {
  if (rows.length === 0) return `${emptyText}\n`;
  const cells = rows.map((row) => columns.map((column) => truncate(cellText(column.value(row)), column.maxWidth ?? 60)));
  const widths = columns.map((column, index) => Math.max(displayWidth(column.header), ...cells.map((line) => displayWidth(line[index] ?? ""))));
  const render = (line: readonly string[]): string =>
    line
      .map((cell, index) => {
        const width = widths[index] ?? 0;
        const pad = " ".repeat(Math.max(0, width - displayWidth(cell)));
        const isLast = index === line.length - 1;
        if (columns[index]?.align === "right") return pad + cell;
        return isLast ? cell : cell + pad;
      })
      .join("  ")
      .trimEnd();
  const header = render(columns.map((column) => column.header));
  const rule = render(widths.map((width) => "-".repeat(width)));
  return [header, rule, ...cells.map(render)].join("\n") + "\n";
}

/** Formats `label: value` pairs with the values aligned, skipping undefined values. */
export function formatFields(fields: ReadonlyArray<readonly [string, string | number | boolean | null | undefined]>): string {
  const shown = fields.filter(([, value]) => value !== undefined);
  const width = Math.max(0, ...shown.map(([label]) => displayWidth(label)));
  return shown.map(([label, value]) => `${label}:${" ".repeat(width - displayWidth(label) + 1)}${cellText(value)}`.trimEnd()).join("\n") + "\n";
}

// eslint-disable-next-line no-control-regex -- matching control characters is the point
const controlCharacters = /[\u0000-\u001f\u007f]/g;

function cellText(value: string | number | boolean | null | undefined): string {
  if (value === null || value === undefined) return "";
  // Control characters would break the alignment (and could rewrite the terminal).
  return String(value).replace(controlCharacters, " ");
}

function truncate(text: string, maxWidth: number): string {
  const characters = [...text];
  if (characters.length <= maxWidth) return text;
  return characters.slice(0, Math.max(1, maxWidth - 1)).join("") + "…";
}

/** Width in terminal columns, counting code points (wide CJK glyphs are rare in this output). */
function displayWidth(text: string): number {
  return [...text].length;
}
