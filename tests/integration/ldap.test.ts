// The LDAP identity adapter against a real OpenLDAP slapd on 127.0.0.1 (tests/support/slapd.ts):
// StartTLS and ldaps, nested groups three levels deep and through a cycle, disabled accounts,
// filter injection, synchronisation lookups, and every way the directory can be unreachable.
import assert from "node:assert/strict";
import { once } from "node:events";
import net from "node:net";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { Client } from "ldapts";
import { EnterpriseError } from "@aesp/core";
import type { ExternalIdentity } from "@aesp/core";
import { LdapDirectory, guidFilterValue, guidFromBytes, parseLdapSettings, userSearchFilter } from "../../packages/host/src/identity/ldap/ldap-directory.ts";
import { generateUnrelatedCaPem, startSlapd } from "../support/slapd.ts";
import type { SlapdHandle } from "../support/slapd.ts";

const PROVIDER = "corp-ldap";
const NOW = 1_750_000_000_000;
const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Runs `action` and returns the EnterpriseError it must throw. */
async function refusal(action: () => Promise<unknown>): Promise<EnterpriseError> {
  try {
    await action();
  } catch (err) {
    assert.ok(err instanceof EnterpriseError, `expected an EnterpriseError, got ${String(err)}`);
    return err;
  }
  assert.fail("expected a refusal, but the call succeeded");
}

async function assertRefused(action: () => Promise<unknown>, code: string, reason?: string): Promise<EnterpriseError> {
  const err = await refusal(action);
  assert.equal(err.code, code, `details: ${JSON.stringify(err.details)}`);
  if (reason !== undefined) assert.equal(err.details["reason"], reason);
  return err;
}

/** A TCP listener on 127.0.0.1 that accepts and then behaves as `onData` says (or never answers). */
async function fakeServer(onData?: (socket: net.Socket, data: Buffer) => void): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => {});
    socket.on("close", () => sockets.delete(socket));
    if (onData !== undefined) socket.on("data", (data) => onData(socket, data));
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    port: (server.address() as AddressInfo).port,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** Answers the first request (the StartTLS extended request) with success, then stays silent. */
function acceptStartTlsThenStall(socket: net.Socket, data: Buffer): void {
  if (socket.bytesWritten > 0 || data[0] !== 0x30 || data[2] !== 0x02) return;
  const idLength = data[3] ?? 1;
  const messageId = data.subarray(4, 4 + idLength);
  // ExtendedResponse [APPLICATION 24] { resultCode success, matchedDN "", diagnosticMessage "" }
  const body = Buffer.concat([Buffer.from([0x02, idLength]), messageId, Buffer.from([0x78, 0x07, 0x0a, 0x01, 0x00, 0x04, 0x00, 0x04, 0x00])]);
  socket.write(Buffer.concat([Buffer.from([0x30, body.length]), body]));
}

async function closedPort(): Promise<number> {
  const server = await fakeServer();
  await server.close();
  return server.port;
}

describe("LDAP directory (real slapd)", () => {
  let ldap: SlapdHandle;
  let unrelatedCaPem: string;
  const opened: LdapDirectory[] = [];

  before(async () => {
    [ldap, unrelatedCaPem] = await Promise.all([startSlapd(), generateUnrelatedCaPem()]);
  });
  after(async () => {
    await Promise.all(opened.map((d) => d.close()));
    await ldap?.stop();
  });

  function settings(overrides: Record<string, unknown> = {}): Record<string, unknown> {
    return {
      url: ldap.url,
      start_tls: true,
      tls_ca_pem: ldap.caPem,
      bind_dn: ldap.serviceBindDn,
      bind_password: ldap.servicePassword,
      user_base_dn: ldap.peopleDn,
      group_base_dn: ldap.groupsDn,
      display_name_attribute: "displayName",
      active_filter: "(!(employeeType=disabled))",
      claim_attributes: ["departmentNumber", "mail"],
      timeout_ms: 3000,
      ...overrides,
    };
  }

  function directory(overrides: Record<string, unknown> = {}): LdapDirectory {
    const created = new LdapDirectory(parseLdapSettings(PROVIDER, settings(overrides)), { now: () => NOW });
    opened.push(created);
    return created;
  }

  /** entryUUID as slapd itself reports it, read with a separate client. */
  async function entryUuidOf(dn: string): Promise<string> {
    const client = new Client({ url: ldap.ldapsUrl, timeout: 3000, connectTimeout: 3000, tlsOptions: { ca: [ldap.caPem] } });
    try {
      await client.bind(ldap.serviceBindDn, ldap.servicePassword);
      const { searchEntries } = await client.search(dn, { scope: "base", attributes: ["entryUUID"] });
      const value = searchEntries[0]?.["entryUUID"];
      assert.equal(typeof value, "string");
      return value as string;
    } finally {
      await client.unbind();
    }
  }

  describe("sign-in", () => {
    test("StartTLS: alice gets her identity with groups nested three levels deep", async () => {
      const identity = await directory().authenticate("alice", ldap.users.alice.password);
      const expected: ExternalIdentity = {
        providerId: PROVIDER,
        subject: await entryUuidOf(ldap.users.alice.dn),
        username: "alice",
        displayName: "Alice Anders",
        email: "alice@example.com",
        groups: ["aesp-admins", "engineers", "staff"],
        claims: { departmentNumber: "R&D", mail: "alice@example.com" },
        amr: ["pwd"],
        acr: "",
        authTime: NOW,
      };
      assert.deepEqual(identity, expected);
      assert.match(identity.subject, uuidPattern);
      assert.ok(!JSON.stringify(identity).includes(ldap.users.alice.password), "the password never appears in the identity");
    });

    test("ldaps: the same sign-in over TLS from the first byte", async () => {
      const identity = await directory({ url: ldap.ldapsUrl, start_tls: false }).authenticate("alice", ldap.users.alice.password);
      assert.equal(identity.username, "alice");
      assert.deepEqual(identity.groups, ["aesp-admins", "engineers", "staff"]);
    });

    test("the username is the directory's spelling, not the typed one (LDAP matching ignores case)", async () => {
      const identity = await directory().authenticate("ALICE", ldap.users.alice.password);
      assert.equal(identity.username, "alice");
    });

    test("plain membership: bob is in staff, and through it in aesp-admins; with nesting off only staff", async () => {
      assert.deepEqual((await directory().authenticate("bob", ldap.users.bob.password)).groups, ["aesp-admins", "staff"]);
      assert.deepEqual((await directory({ nested_groups: "none" }).authenticate("bob", ldap.users.bob.password)).groups, ["staff"]);
      assert.deepEqual((await directory({ nested_groups: "none" }).authenticate("alice", ldap.users.alice.password)).groups, ["engineers"]);
    });

    test("member_of mode follows the memberof overlay's memberOf through every level", async () => {
      const memberOf = directory({ nested_groups: "member_of" });
      assert.deepEqual((await memberOf.authenticate("alice", ldap.users.alice.password)).groups, ["aesp-admins", "engineers", "staff"]);
      assert.deepEqual((await memberOf.authenticate("bob", ldap.users.bob.password)).groups, ["aesp-admins", "staff"]);
    });

    test("a membership cycle (loop-a ⇄ loop-b) terminates in recursive and member_of modes", async () => {
      for (const mode of ["recursive", "member_of"]) {
        const identity = await directory({ nested_groups: mode }).authenticate("dave", ldap.users.dave.password);
        assert.deepEqual(identity.groups, ["loop-a", "loop-b"], mode);
      }
    });

    test("in_chain against OpenLDAP, which lacks AD's matching rule, grants no groups rather than failing open", async () => {
      // The positive case needs Active Directory; here the rule is unknown, the filter is Undefined, nothing matches.
      const identity = await directory({ nested_groups: "in_chain" }).authenticate("alice", ldap.users.alice.password);
      assert.equal(identity.username, "alice");
      assert.deepEqual(identity.groups, []);
    });

    test("parallel sign-ins share no connection state", async () => {
      const shared = directory();
      const people = ["alice", "bob", "dave", "alice", "bob", "dave"] as const;
      const identities = await Promise.all(people.map((uid) => shared.authenticate(uid, ldap.users[uid].password)));
      assert.deepEqual(identities.map((i) => i.username), [...people]);
    });
  });

  describe("refusals", () => {
    test("wrong password: invalid_credentials", async () => {
      await assertRefused(() => directory().authenticate("alice", `${ldap.users.alice.password}x`), "AUTHENTICATION_FAILED", "invalid_credentials");
      // Another user's valid password does not open alice's account either.
      await assertRefused(() => directory().authenticate("alice", ldap.users.bob.password), "AUTHENTICATION_FAILED", "invalid_credentials");
    });

    test("a filter matching two people: ambiguous_user, and no bind is attempted as either", async () => {
      await assertRefused(() => directory({ user_filter: "(|(uid={username})(uid=bob))" }).authenticate("alice", ldap.users.alice.password), "AUTHENTICATION_FAILED", "ambiguous_user");
    });

    test("unknown user: unknown_user", async () => {
      await assertRefused(() => directory().authenticate("mallory", "whatever"), "AUTHENTICATION_FAILED", "unknown_user");
    });

    test("disabled account: account_disabled even with the right password; without active_filter carol signs in", async () => {
      await assertRefused(() => directory().authenticate("carol", ldap.users.carol.password), "AUTHENTICATION_FAILED", "account_disabled");
      const unfiltered = await directory({ active_filter: "" }).authenticate("carol", ldap.users.carol.password);
      assert.equal(unfiltered.username, "carol");
    });

    test("empty password is refused before the directory is contacted (no unauthenticated bind)", async () => {
      await assertRefused(() => directory().authenticate("alice", ""), "AUTHENTICATION_FAILED", "invalid_credentials");
      const unreachable = directory({ url: `ldap://127.0.0.1:${await closedPort()}` });
      await assertRefused(() => unreachable.authenticate("alice", ""), "AUTHENTICATION_FAILED", "invalid_credentials");
      // The same directory does fail as unreachable once a password is given: the refusal above was local.
      await assertRefused(() => unreachable.authenticate("alice", "x"), "IDENTITY_PROVIDER_UNAVAILABLE", "connection_refused");
    });

    test("usernames with control characters or over 256 characters: invalid_username", async () => {
      for (const username of ["alice\u0000", "\u0000", "ali\nce", "alice\u007f", "a".repeat(257), ""]) {
        await assertRefused(() => directory().authenticate(username, ldap.users.alice.password), "AUTHENTICATION_FAILED", "invalid_username");
      }
    });

    test("filter injection in the username finds nothing and never signs in as someone else", async () => {
      // Unescaped, these would match every person (the first one proves the directory would answer).
      const client = new Client({ url: ldap.ldapsUrl, timeout: 3000, tlsOptions: { ca: [ldap.caPem] } });
      try {
        await client.bind(ldap.serviceBindDn, ldap.servicePassword);
        const { searchEntries } = await client.search(ldap.peopleDn, { filter: "(uid=*)", attributes: ["1.1"] });
        assert.ok(searchEntries.length >= 4, "a raw wildcard matches several people");
      } finally {
        await client.unbind();
      }
      for (const username of ["*", "alice)(uid=*", "*)(|(uid=*", "*)(uid=*", "al*", "alice)(|(objectClass=*", "\\2a", "alice\\00"]) {
        for (const password of [ldap.users.alice.password, ldap.users.bob.password]) {
          await assertRefused(() => directory().authenticate(username, password), "AUTHENTICATION_FAILED", "unknown_user");
        }
      }
    });

    test("the username is escaped per RFC 4515 wherever {username} appears", () => {
      assert.equal(userSearchFilter("(uid={username})", "*)(uid=*"), "(uid=\\2a\\29\\28uid=\\2a)");
      assert.equal(userSearchFilter("(|(uid={username})(mail={username}))", "a\\b"), "(|(uid=a\\5cb)(mail=a\\5cb))");
      assert.equal(userSearchFilter("(uid={username})", "$&$1"), "(uid=$&$1)", "replacement patterns are not interpreted");
    });

    test("a wrong service-account password is the provider's fault: service_bind_failed", async () => {
      await assertRefused(() => directory({ bind_password: "not-it" }).authenticate("alice", ldap.users.alice.password), "IDENTITY_PROVIDER_UNAVAILABLE", "service_bind_failed");
    });

    test("after close() the directory refuses further work as unavailable", async () => {
      const closing = directory();
      await closing.close();
      await assertRefused(() => closing.authenticate("alice", ldap.users.alice.password), "IDENTITY_PROVIDER_UNAVAILABLE", "closed");
    });
  });

  describe("synchronisation lookups", () => {
    test("active, then disabled, then active again, then absent once deleted", async () => {
      const erin = await ldap.addUser("erin", "erin-pass-1");
      await ldap.addToGroup("engineers", erin.dn);
      const sync = directory();
      const signedIn = await sync.authenticate("erin", erin.password);
      assert.deepEqual(signedIn.groups, ["aesp-admins", "engineers", "staff"]);

      const active = await sync.lookup(signedIn.subject);
      assert.equal(active.state, "active");
      assert.ok(active.state === "active");
      assert.deepEqual(active.identity, { ...signedIn, amr: [], authTime: 0 }, "a lookup is not an authentication");

      await ldap.disableUser("erin");
      assert.deepEqual(await sync.lookup(signedIn.subject), { state: "disabled" });
      await assertRefused(() => sync.authenticate("erin", erin.password), "AUTHENTICATION_FAILED", "account_disabled");
      await ldap.enableUser("erin");
      assert.equal((await sync.lookup(signedIn.subject)).state, "active");

      await ldap.deleteUser("erin");
      assert.deepEqual(await sync.lookup(signedIn.subject), { state: "absent" });
      await assertRefused(() => sync.authenticate("erin", erin.password), "AUTHENTICATION_FAILED", "unknown_user");
    });

    test("group changes are seen by the next lookup", async () => {
      const frank = await ldap.addUser("frank", "frank-pass-1");
      const sync = directory({ nested_groups: "member_of" });
      const { subject } = await sync.authenticate("frank", frank.password);
      const before = await sync.lookup(subject);
      assert.ok(before.state === "active");
      assert.deepEqual(before.identity.groups, []);
      await ldap.addToGroup("staff", frank.dn);
      const afterAdd = await sync.lookup(subject);
      assert.ok(afterAdd.state === "active");
      assert.deepEqual(afterAdd.identity.groups, ["aesp-admins", "staff"]);
    });

    test("subject_attribute dn: the DN is the subject; DNs outside user_base_dn and malformed subjects are absent", async () => {
      const byDn = directory({ subject_attribute: "dn" });
      const identity = await byDn.authenticate("bob", ldap.users.bob.password);
      assert.equal(identity.subject, ldap.users.bob.dn);
      assert.equal((await byDn.lookup(ldap.users.bob.dn)).state, "active");
      assert.deepEqual(await byDn.lookup(ldap.users.carol.dn), { state: "disabled" });
      assert.deepEqual(await byDn.lookup(`uid=nobody,${ldap.peopleDn}`), { state: "absent" });
      assert.deepEqual(await byDn.lookup(ldap.groupDn("staff")), { state: "absent" });
      const byUuid = directory();
      for (const subject of ["not-a-uuid", "*", "", "x\u0000"]) assert.deepEqual(await byUuid.lookup(subject), { state: "absent" }, subject);
    });
  });

  describe("unreachable or untrusted directory", () => {
    test("connection refused: IDENTITY_PROVIDER_UNAVAILABLE at once", async () => {
      const port = await closedPort();
      for (const url of [`ldap://127.0.0.1:${port}`, `ldaps://127.0.0.1:${port}`]) {
        const down = directory({ url, start_tls: url.startsWith("ldap:") });
        await assertRefused(() => down.authenticate("alice", "pw"), "IDENTITY_PROVIDER_UNAVAILABLE", "connection_refused");
        await assertRefused(() => down.lookup("0b9c2d4e-0000-4000-8000-000000000000"), "IDENTITY_PROVIDER_UNAVAILABLE", "connection_refused");
      }
    });

    test("a server that accepts but never answers: timeout within timeout_ms (StartTLS request, ldaps handshake, StartTLS handshake)", async () => {
      const silent = await fakeServer();
      const stalling = await fakeServer(acceptStartTlsThenStall);
      try {
        for (const url of [`ldap://127.0.0.1:${silent.port}`, `ldaps://127.0.0.1:${silent.port}`, `ldap://127.0.0.1:${stalling.port}`]) {
          const started = performance.now();
          await assertRefused(() => directory({ url, start_tls: url.startsWith("ldap:"), timeout_ms: 300 }).authenticate("alice", "pw"), "IDENTITY_PROVIDER_UNAVAILABLE", "timeout");
          assert.ok(performance.now() - started < 5000, `${url} returned in bounded time`);
        }
      } finally {
        await Promise.all([silent.close(), stalling.close()]);
      }
    });

    test("a certificate from an unrelated CA: tls_untrusted_certificate over StartTLS and ldaps", async () => {
      for (const overrides of [{}, { url: ldap.ldapsUrl, start_tls: false }]) {
        await assertRefused(() => directory({ ...overrides, tls_ca_pem: unrelatedCaPem }).authenticate("alice", ldap.users.alice.password), "IDENTITY_PROVIDER_UNAVAILABLE", "tls_untrusted_certificate");
      }
    });

    test("a trusted certificate for another host name: tls_hostname_mismatch; once stopped: connection_refused", async () => {
      const elsewhere = await startSlapd({ serverCertificateNames: ["DNS:directory.invalid"] });
      try {
        const base = { tls_ca_pem: elsewhere.caPem, bind_dn: elsewhere.serviceBindDn, bind_password: elsewhere.servicePassword };
        const viaStartTls = directory({ ...base, url: elsewhere.url });
        const viaLdaps = directory({ ...base, url: elsewhere.ldapsUrl, start_tls: false });
        for (const target of [viaStartTls, viaLdaps]) {
          await assertRefused(() => target.authenticate("alice", elsewhere.users.alice.password), "IDENTITY_PROVIDER_UNAVAILABLE", "tls_hostname_mismatch");
        }
        await elsewhere.stop();
        await assertRefused(() => viaStartTls.authenticate("alice", elsewhere.users.alice.password), "IDENTITY_PROVIDER_UNAVAILABLE", "connection_refused");
      } finally {
        await elsewhere.stop();
      }
    });
  });

  describe("settings", () => {
    const field = async (raw: Record<string, unknown>): Promise<string | undefined> =>
      (await assertRefused(async () => parseLdapSettings(PROVIDER, raw), "INVALID_ARGUMENT")).details["field"];

    test("defaults", () => {
      const parsed = parseLdapSettings(PROVIDER, { url: "ldaps://dc1.corp.example:636", bind_dn: "cn=svc,dc=corp", bind_password: "s", user_base_dn: "dc=corp", group_base_dn: "dc=corp" });
      assert.equal(parsed.userFilter, "(uid={username})");
      assert.equal(parsed.subjectAttribute, "entryUUID");
      assert.equal(parsed.groupFilter, "(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames))");
      assert.equal(parsed.groupMemberAttribute, "member");
      assert.equal(parsed.groupNameAttribute, "cn");
      assert.equal(parsed.nestedGroups, "recursive");
      assert.equal(parsed.activeFilter, "");
      assert.equal(parsed.timeoutMs, 5000);
      assert.equal(parsed.startTls, false);
      assert.equal(parsed.tlsCaPem, undefined);
      assert.deepEqual(parsed.claimAttributes, []);
    });

    test("Active Directory settings are accepted", () => {
      const parsed = parseLdapSettings(PROVIDER, settings({
        user_filter: "(&(objectCategory=person)(sAMAccountName={username}))",
        username_attribute: "sAMAccountName",
        subject_attribute: "objectGUID",
        group_filter: "(objectClass=group)",
        nested_groups: "in_chain",
        active_filter: "(!(userAccountControl:1.2.840.113556.1.4.803:=2))",
      }));
      assert.equal(parsed.nestedGroups, "in_chain");
      assert.equal(parsed.subjectAttribute, "objectGUID");
    });

    test("each bad setting is named in details.field", async () => {
      assert.equal(await field(settings({ tls_insecure_skip_verify: true })), "tls_insecure_skip_verify");
      assert.equal(await field(settings({ start_tsl: true })), "start_tsl");
      assert.equal(await field(settings({ start_tls: false })), "start_tls", "ldap:// without StartTLS would send passwords in clear");
      assert.equal(await field(settings({ url: ldap.ldapsUrl, start_tls: true })), "start_tls");
      assert.equal(await field(settings({ start_tls: "yes" })), "start_tls");
      assert.equal(await field(settings({ url: "http://127.0.0.1:389" })), "url");
      assert.equal(await field(settings({ url: "ldap://user:pw@127.0.0.1:389" })), "url");
      assert.equal(await field(settings({ url: "ldap://127.0.0.1:389/dc=example?uid" })), "url");
      assert.equal(await field(settings({ tls_ca_pem: "not a certificate" })), "tls_ca_pem");
      assert.equal(await field(settings({ bind_password: "" })), "bind_password");
      assert.equal(await field(settings({ bind_dn: undefined })), "bind_dn");
      assert.equal(await field(settings({ user_base_dn: "people" })), "user_base_dn");
      assert.equal(await field(settings({ user_filter: "(uid=alice)" })), "user_filter");
      assert.equal(await field(settings({ user_filter: "uid={username}" })), "user_filter");
      assert.equal(await field(settings({ user_filter: "(&(uid={username})" })), "user_filter");
      assert.equal(await field(settings({ active_filter: "(!(employeeType=disabled)" })), "active_filter");
      assert.equal(await field(settings({ group_member_attribute: "member)(uid=*" })), "group_member_attribute");
      assert.equal(await field(settings({ nested_groups: "deep" })), "nested_groups");
      assert.equal(await field(settings({ timeout_ms: 0 })), "timeout_ms");
      assert.equal(await field(settings({ timeout_ms: 1.5 })), "timeout_ms");
      assert.equal(await field(settings({ claim_attributes: ["userPassword"] })), "claim_attributes");
      assert.equal(await field(settings({ claim_attributes: "mail" })), "claim_attributes");
    });

    test("settings errors carry no secret", async () => {
      const err = await assertRefused(async () => parseLdapSettings(PROVIDER, settings({ timeout_ms: -1 })), "INVALID_ARGUMENT");
      assert.ok(!JSON.stringify(err.details).includes(ldap.servicePassword));
      assert.ok(!err.message.includes(ldap.servicePassword));
    });

    test("objectGUID subjects round-trip between the AD text form and an escaped filter value", () => {
      const bytes = Buffer.from("e0a52f3f894fd3119a0c0305e82c3301", "hex");
      const text = guidFromBytes(bytes);
      assert.equal(text, "3f2fa5e0-4f89-11d3-9a0c-0305e82c3301");
      assert.equal(guidFilterValue(text), [...bytes].map((b) => `\\${b.toString(16).padStart(2, "0")}`).join(""));
      assert.equal(guidFilterValue(`{${text.toUpperCase()}}`), guidFilterValue(text));
      assert.equal(guidFilterValue("*)(objectGUID=*"), undefined);
    });
  });
});
