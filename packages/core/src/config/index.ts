export { envName, renderConfigReference, resolveConfig } from "./registry.ts";
export type { ConfigKey, ConfigOrigin, ResolvedConfig } from "./registry.ts";
export { hostConfigSchema } from "./sections.ts";
export type { HostConfigSchema } from "./sections.ts";
