/**
 * A Host in a process of its own, for tests that must kill it for real (SIGKILL) and restart it
 * on the same store. Run as `node tests/support/host-process.ts '<flags as JSON>'`.
 *
 * Prints one JSON line `{"type":"ready", pid, gatewayUrl, runtimePlaneUrl, caCertificatePem}`
 * once listening (or `{"type":"error", message}` and exits 1), then closes the Host gracefully
 * when its stdin ends, so it never outlives the test process that started it.
 */
import { startHost } from "@aesp/host";

const flagsJson = process.argv[2];
if (flagsJson === undefined) {
  process.stdout.write(`${JSON.stringify({ type: "error", message: "usage: host-process.ts '<flags json>'" })}\n`);
  process.exit(2);
}

try {
  const host = await startHost({ flags: JSON.parse(flagsJson) as Record<string, unknown>, env: {}, logDestination: "silent" });
  process.stdout.write(
    `${JSON.stringify({ type: "ready", pid: process.pid, gatewayUrl: host.gatewayUrl, runtimePlaneUrl: host.runtimePlaneUrl, caCertificatePem: host.caCertificatePem })}\n`,
  );
  process.stdin.resume();
  process.stdin.on("end", () => {
    const forced = setTimeout(() => process.exit(3), 15_000);
    void host.close().finally(() => {
      clearTimeout(forced);
      process.exit(0);
    });
  });
} catch (err) {
  process.stdout.write(`${JSON.stringify({ type: "error", message: err instanceof Error ? err.message : String(err) })}\n`);
  process.exit(1);
}
