/** @aesp/host — the AESP Host process. */
export { assertSupportedNode, hostVersion, startHost } from "./main.ts";
export type { RunningHost, StartHostOptions } from "./main.ts";
export { verifyAuditStore } from "./audit/verify-store.ts";
export { verifyAuditConsistency, verifyAuditInclusion } from "./audit/verify-proof.ts";
export { verifyAuditExport } from "./audit/verify-export.ts";
export { loadHostConfig } from "./config.ts";
export { openStore } from "./storage/index.ts";
