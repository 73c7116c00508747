/**
 * `aesp audit query|proof|checkpoint|stats|retention|hold|erase` against a real Host: query with filters and a
 * continuation cursor, a proof verified locally against the Host's verifier keys (OK, and
 * FAILED with exit 1 against a key the checkpoint was not signed with), a checkpoint note with a
 * locally verified consistency proof, and statistics as JSON.
 */
import assert from "node:assert/strict";
import { createHash, generateKeyPairSync } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { EnterpriseAuditService } from "@aesp/proto/audit";
import { formatVerifierKey } from "@aesp/core/audit";
import { runAesp, type CliRun } from "../support/cli.ts";
import { startTestHost } from "../support/harness.ts";
import type { Actor, TestHost } from "../support/harness.ts";

let t: TestHost;
let acme: Actor;
let auditor: Actor;
let work: string;
let caPath: string;

async function aesp(args: string[], apiKey = auditor.apiKey): Promise<CliRun> {
  return runAesp(["--host", t.host.gatewayUrl, "--ca", caPath, ...args], { work, env: { AESP_API_KEY: apiKey } });
}

async function ok(args: string[]): Promise<string> {
  const result = await aesp(args);
  assert.equal(result.code, 0, `aesp ${args.join(" ")} failed:\n${result.stdout}\n${result.stderr}`);
  return result.stdout;
}

before(async () => {
  t = await startTestHost("sqlite", { "audit.checkpoint_every": 5 });
  work = await mkdtemp(join(tmpdir(), "aesp-cli-audit-"));
  caPath = join(work, "ca.pem");
  await writeFile(caPath, t.host.caCertificatePem);
  acme = await t.tenant("acme");
  auditor = await t.actor("auditor", ["auditor"], acme);
  for (let i = 0; i < 6; i++) await t.actor(`agent-${i}`, ["agent"], acme);
});

after(async () => {
  await t?.stop();
  if (work !== undefined) await rm(work, { recursive: true, force: true });
});

void describe("aesp audit", () => {
  test("query filters and continues from a cursor", async () => {
    type Page = { items: { outcome: string; seq: string }[]; next_cursor: string };
    const query = async (args: string[]): Promise<Page> => JSON.parse(await ok(["audit", "query", "--json", ...args])) as Page;
    const all = (await query(["--limit", "1000"])).items;
    assert.ok(all.length >= 8);
    const firstPage = await query(["--limit", "3"]);
    const first = firstPage.items;
    assert.equal(first.length, 3);
    assert.notEqual(firstPage.next_cursor, "");
    const page = await aesp(["audit", "query", "--limit", "3"]);
    assert.match(page.stderr, /--cursor (\d+)/);
    const cursor = /--cursor (\d+)/.exec(page.stderr)![1]!;
    assert.equal(cursor, firstPage.next_cursor);
    const rest = (await query(["--limit", "1000", "--cursor", cursor])).items;
    // Each CLI call signs in (an audited event), so the log grows between calls: compare the prefix.
    assert.deepEqual(
      [...first, ...rest].slice(0, all.length).map((event) => event.seq),
      all.map((event) => event.seq),
      "the cursor continues exactly after the page",
    );
    const success = (await query(["--limit", "1000", "--outcome", "success"])).items;
    assert.ok(success.length > 0 && success.every((event) => event.outcome === "SUCCESS"));
    assert.deepEqual((await query(["--contract", "nothing-here"])).items, []);
  });

  test("proof verifies locally and prints OK; with a foreign key it fails with exit 1", async () => {
    const { events } = await auditor.client(EnterpriseAuditService).queryEvents({ limit: 1 });
    const eventId = events[0]!.eventId;
    const text = await ok(["audit", "proof", eventId]);
    assert.match(text, new RegExp(`^OK: event ${eventId} \\(seq \\d+\\) is in the log of \\d+ events; checkpoint signed by`));
    const json = JSON.parse(await ok(["audit", "proof", eventId, "--json"])) as { ok: boolean; proof: string[]; signed_note: string };
    assert.equal(json.ok, true);
    assert.match(json.signed_note, /\n\n— /);

    const { origin } = await auditor.client(EnterpriseAuditService).getAuditVerifierKeys({});
    const stranger = generateKeyPairSync("ed25519").publicKey.export({ format: "jwk" }).x!;
    const strangerKey = formatVerifierKey({ keyName: origin, publicKey: new Uint8Array(Buffer.from(stranger, "base64url")) }, { sha256: (d) => new Uint8Array(createHash("sha256").update(d).digest()) });
    const bad = await aesp(["audit", "proof", eventId, "--key", strangerKey]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /FAILED: checkpoint signed by an unknown key/);
  });

  test("checkpoint prints the signed note and verifies consistency from an older size", async () => {
    const note = await ok(["audit", "checkpoint"]);
    assert.match(note, /^\S+\n\d+\n\S+=*\nchain [0-9a-f]{64}\n\n— /);
    const { checkpoints } = await auditor.client(EnterpriseAuditService).listCheckpoints({});
    assert.ok(checkpoints.length >= 2);
    const older = checkpoints[0]!.treeSize;
    const newer = checkpoints.at(-1)!.treeSize;
    const text = await ok(["audit", "checkpoint", "--size", String(newer), "--consistency-from", String(older)]);
    assert.match(text, new RegExp(`OK: the log of ${newer} events extends the checkpoint of ${older}`));
    const missing = await aesp(["audit", "checkpoint", "--consistency-from", "3"]);
    assert.notEqual(missing.code, 0, "an older size that is not a checkpoint is refused");
  });

  test("stats counts the tenant's events", async () => {
    const stats = JSON.parse(await ok(["audit", "stats", "--json"])) as { total_events: number; events_by_type: Record<string, number>; events_by_day: Record<string, number> };
    const { events } = await auditor.client(EnterpriseAuditService).queryEvents({ limit: 1000 });
    assert.equal(stats.total_events, events.length);
    assert.equal(Object.values(stats.events_by_day).reduce((a, b) => a + b, 0), events.length);
    const text = await ok(["audit", "stats"]);
    assert.match(text, /^events: \d+ \(security: \d+\)/);
    assert.match(text, /by type:\n/);
  });

  test("export writes a verifiable file; verify --export checks it offline with only the public key; tampering fails with exit 1", async () => {
    const file = join(work, "acme.jsonl");
    const exported = await aesp(["audit", "export", "--output", "acme.jsonl"]);
    assert.equal(exported.code, 0, exported.stderr);
    assert.match(exported.stderr, /^Exported \d+ event\(s\) as JSONL to acme\.jsonl, proved against the signed checkpoint of \d+ events\./);
    const { keys } = await auditor.client(EnterpriseAuditService).getAuditVerifierKeys({});
    await writeFile(join(work, "audit-public-key.pem"), keys.at(-1)!.publicKeyPem);
    // Offline: no Host is asked (no --host is needed and the API key is wrong).
    const verified = await aesp(["audit", "verify", "--export", "acme.jsonl", "--key", "audit-public-key.pem"], "not-a-key");
    assert.equal(verified.code, 0, verified.stderr);
    assert.match(verified.stdout, /^OK: \d+ events of tenant acme verified against the signed checkpoint of \d+ events/);
    const json = JSON.parse((await aesp(["audit", "verify", "--export", "acme.jsonl", "--key", keys.at(-1)!.verifierKey, "--json"])).stdout) as { ok: boolean; tenant_id: string };
    assert.deepEqual([json.ok, json.tenant_id], [true, "acme"]);

    const text = await readFile(file, "utf8");
    const eventLines = text.split("\n").filter((line) => line.startsWith('{"type":"event"'));
    await writeFile(join(work, "dropped.jsonl"), text.replace(eventLines[1]! + "\n", ""));
    const dropped = await aesp(["audit", "verify", "--export", "dropped.jsonl", "--key", "audit-public-key.pem"]);
    assert.equal(dropped.code, 1);
    assert.match(dropped.stderr, /^FAILED \(line \d+\): the signed manifest lists \d+ events but the file holds \d+: events were removed or added after the export/);
    const first = JSON.parse(eventLines[0]!) as { seq: number; event: { eventId: string } };
    await writeFile(join(work, "edited.jsonl"), text.replace(eventLines[0]!, eventLines[0]!.replace('"outcome":"SUCCESS"', '"outcome":"DENIED"')));
    const edited = await aesp(["audit", "verify", "--export", "edited.jsonl", "--key", "audit-public-key.pem"]);
    assert.equal(edited.code, 1);
    assert.match(edited.stderr, new RegExp(`^FAILED \\(event ${first.event.eventId}, seq ${first.seq}, line 2\\): leaf hash mismatch`));
    const missingKey = await aesp(["audit", "verify", "--export", "acme.jsonl"]);
    assert.notEqual(missingKey.code, 0);
    assert.match(missingKey.stderr, /--key/);
  });

  test("export in CSV, CEF and OCSF to standard output", async () => {
    assert.match(await ok(["audit", "export", "--format", "csv"]), /^seq,event_id,time,timestamp_ms,event_type/);
    assert.match(await ok(["audit", "export", "--format", "cef", "--type", "authn.succeeded"]), /^CEF:0\|AESP\|AESP Host\|[^|]+\|authn\.succeeded\|/);
    const ocsf = (await ok(["audit", "export", "--format", "ocsf"])).trim().split("\n").map((line) => JSON.parse(line) as { metadata: { version: string } });
    assert.ok(ocsf.length > 0 && ocsf.every((event) => event.metadata.version === "1.1.0"));
    const bad = await aesp(["audit", "export", "--format", "xml"]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /--format jsonl, csv, cef or ocsf/);
  });

  test("report prints each control with its evidence and the checkpoint to prove it against", async () => {
    const text = await ok(["audit", "report", "--framework", "soc2"]);
    assert.match(text, /^SOC2 report for tenant acme/);
    assert.match(text, /log verification: VERIFIED; evidence proved against the signed checkpoint of \d+ events/);
    assert.match(text, /\nCC4\.1 +SATISFIED/);
    assert.match(text, /prove an item: aesp audit proof <event id> --size \d+/);
    const json = JSON.parse(await ok(["audit", "report", "--framework", "pci-dss", "--json"])) as { framework: string; controls: { control_id: string }[]; verification: { status: string } };
    assert.equal(json.framework, "PCI_DSS");
    assert.equal(json.verification.status, "VERIFIED");
    assert.ok(json.controls.some((c) => c.control_id === "10.2.1.4"));
    const unknown = await aesp(["audit", "report", "--framework", "nist"]);
    assert.notEqual(unknown.code, 0);
  });

  test("retention rules, legal holds and erasure: set and list, the security floor, who may, erasure refused under a hold", async () => {
    const set = await aesp(["audit", "retention", "set", "tool_call.completed", "90", "--json"], acme.apiKey);
    assert.equal(set.code, 0, set.stderr);
    const listed = JSON.parse((await aesp(["audit", "retention", "list", "--json"], acme.apiKey)).stdout) as { items: { pattern: string; retention_days: number }[]; security_min_retention_days: number };
    assert.deepEqual(
      listed.items.map((rule) => [rule.pattern, rule.retention_days]),
      [["tool_call.completed", 90]],
    );
    const belowFloor = await aesp(["audit", "retention", "set", "audit.*", "1"], acme.apiKey);
    assert.equal(belowFloor.code, 1);
    assert.match(belowFloor.stderr, /^error INVALID_ARGUMENT/);
    const notAllowed = await aesp(["audit", "retention", "set", "*", "30"]);
    assert.equal(notAllowed.code, 1);
    assert.match(notAllowed.stderr, /^error AUTHORIZATION_DENIED/);

    const subject = await t.actor("erasure-subject", ["agent"], acme);
    const placed = await aesp(["audit", "hold", "place", "--reason", "case 2026-17", "--principal", subject.principalId, "--json"], acme.apiKey);
    assert.equal(placed.code, 0, placed.stderr);
    const holdId = (JSON.parse(placed.stdout) as { items: { hold_id: string }[] }).items[0]?.hold_id ?? "";
    assert.match(holdId, /\S/);
    const holds = JSON.parse((await aesp(["audit", "hold", "list", "--json"], acme.apiKey)).stdout) as { items: { hold_id: string; principal_id: string }[] };
    assert.ok(holds.items.some((hold) => hold.hold_id === holdId && hold.principal_id === subject.principalId));
    const refused = await aesp(["audit", "erase", subject.principalId], acme.apiKey);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^error LEGAL_HOLD_ACTIVE/);
    assert.equal((await aesp(["audit", "hold", "release", holdId], acme.apiKey)).code, 0);
    const erased = await aesp(["audit", "erase", subject.principalId], acme.apiKey);
    assert.equal(erased.code, 0, erased.stderr);
    assert.match(erased.stdout, /their personal fields now read \[ERASED\]/);
  });
});
