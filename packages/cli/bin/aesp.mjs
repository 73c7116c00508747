#!/usr/bin/env node
/* global process */
// Plain JavaScript on purpose: this file must run on any Node.js, so that an old one gets a clear
// message instead of "Unknown file extension .ts". The CLI itself is TypeScript run natively.
const [major = 0, minor = 0] = process.versions.node.split(".").map(Number);
if (major < 22 || (major === 22 && minor < 12)) {
  process.stderr.write(
    `aesp needs Node.js 22.12 or newer (Node 24 LTS recommended); this is Node ${process.versions.node}.\n` +
      "Install Node 24 and run the command again.\n",
  );
  process.exit(1);
}
await import("../src/bin.ts");
