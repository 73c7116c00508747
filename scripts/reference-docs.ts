/**
 * The reference pages generated from the code's own catalogues: errors, audit
 * events, configuration and policy variables. `npm run generate` writes them;
 * `--check` fails CI when a committed page differs from what the code says.
 */
import { hostConfigSchema, renderConfigReference, renderErrorReference, renderPolicyVariablesMarkdown } from "@aesp/core";
import { renderAuditEventReference } from "@aesp/core/audit";
import { renderCliReference } from "../packages/cli/src/render-reference.ts";

/** Path (relative to the repository) → rendered markdown. */
export function renderReferenceDocs(): Record<string, string> {
  return {
    "docs/reference/errors.md": renderErrorReference(),
    "docs/reference/audit-events.md": renderAuditEventReference(),
    "docs/reference/config.md": renderConfigReference(hostConfigSchema),
    "docs/reference/policy-variables.md": renderPolicyVariablesMarkdown(),
    "docs/reference/cli.md": renderCliReference(),
  };
}
