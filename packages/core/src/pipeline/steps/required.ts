import { EnterpriseError } from "../../errors.ts";

/** Asserts an earlier step established `value`; a broken step order is an internal error. */
export function required<T>(value: T | null, what: string): T {
  if (value === null) throw new EnterpriseError("INTERNAL_ERROR", { cause: new Error(`pipeline step order: ${what} not established`) });
  return value;
}
