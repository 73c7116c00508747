import pino from "pino";
import type { Logger } from "pino";

/**
 * Structured JSON logs. Credentials are redacted by path as a second line of defence:
 * the first is that no code path logs them.
 */
export function createLogger(options: { level: string; destination: "stdout" | "stderr" | "silent" }): Logger {
  if (options.destination === "silent") return pino({ level: "silent" });
  return pino(
    {
      level: options.level,
      base: { service: "aesp-host" },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: {
        paths: ["*.authorization", "*.apiKey", "*.api_key", "*.token", "*.accessToken", "*.secret", "*.password", "*.joinToken", "*.bootstrapToken", "*.privateKeyPem"],
        censor: "[REDACTED]",
      },
    },
    pino.destination({ fd: options.destination === "stdout" ? 1 : 2, sync: false }),
  );
}
