/**
 * Starts a real OpenLDAP `slapd` on 127.0.0.1 for directory tests: a throwaway CA and server
 * certificate, ldap:// (StartTLS) and ldaps:// listeners, the memberof overlay, and a seeded tree:
 *
 * ```
 * dc=example,dc=com
 *   ou=people   alice, bob, carol (disabled), dave, cn=svc (service account)
 *   ou=groups   engineers ⊂ staff ⊂ aesp-admins   (alice in engineers; bob in staff)
 *               loop-a ⇄ loop-b                   (dave in loop-a; a membership cycle)
 * ```
 *
 * "Disabled" is modelled as `employeeType: disabled` (no ppolicy overlay needed); pair it with the
 * adapter setting `active_filter: (!(employeeType=disabled))`. Changes during a test go through
 * ldapts bound as the rootdn, so the memberof overlay keeps `memberOf` in step.
 */
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { once } from "node:events";
import { access, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import net from "node:net";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Attribute, Change, Client } from "ldapts";
import type { JsonObject } from "@bufbuild/protobuf";

const slapdBinary = "/usr/sbin/slapd";
const slapaddBinary = "/usr/sbin/slapadd";
const schemaDir = "/etc/ldap/schema";
const moduleDir = "/usr/lib/ldap";
const startupDeadlineMs = 15_000;

/** A person seeded in (or added to) the test directory. */
export interface SlapdUser {
  readonly uid: string;
  readonly dn: string;
  readonly password: string;
}

/** The seeded people; `carol` starts disabled, `svc` is not among them (see {@link SlapdHandle.serviceBindDn}). */
export type SeededUid = "alice" | "bob" | "carol" | "dave";

export interface SlapdOptions {
  /** Subject alternative names of the server certificate. Default `["IP:127.0.0.1", "DNS:localhost"]`. */
  readonly serverCertificateNames?: readonly string[];
}

export interface SlapdHandle {
  /** `ldap://127.0.0.1:PORT` — plain listener, for StartTLS. */
  readonly url: string;
  /** `ldaps://127.0.0.1:PORT` — TLS from the first byte. */
  readonly ldapsUrl: string;
  /** PEM of the throwaway CA that signed the server certificate. */
  readonly caPem: string;
  readonly baseDn: string;
  readonly peopleDn: string;
  readonly groupsDn: string;
  readonly serviceBindDn: string;
  readonly servicePassword: string;
  readonly users: Readonly<Record<SeededUid, SlapdUser>>;
  groupDn(cn: string): string;
  /** Adds a person under ou=people (enabled, in no group). */
  addUser(uid: string, password: string): Promise<SlapdUser>;
  disableUser(uid: string): Promise<void>;
  enableUser(uid: string): Promise<void>;
  deleteUser(uid: string): Promise<void>;
  /** Adds `memberDn` to the `member` attribute of group `groupCn`. */
  addToGroup(groupCn: string, memberDn: string): Promise<void>;
  /** Stops slapd (SIGTERM from the pidfile's pid, SIGKILL if it lingers) and removes its directory. */
  stop(): Promise<void>;
}

/**
 * The settings of an LDAP identity provider over StartTLS against `slapd`, as a tenant
 * administrator would put them; `extra` adds or overrides settings (e.g. `nested_groups`).
 */
export function ldapProviderSettings(slapd: SlapdHandle, extra: JsonObject = {}): JsonObject {
  return {
    url: slapd.url,
    start_tls: true,
    tls_ca_pem: slapd.caPem,
    bind_dn: slapd.serviceBindDn,
    bind_password: slapd.servicePassword,
    user_base_dn: slapd.peopleDn,
    group_base_dn: slapd.groupsDn,
    ...extra,
  };
}

const baseDn = "dc=example,dc=com";
const peopleDn = `ou=people,${baseDn}`;
const groupsDn = `ou=groups,${baseDn}`;
const rootDn = `cn=admin,${baseDn}`;

/** Starts slapd with the seeded directory; throws with slapd's own words if it will not start. */
export async function startSlapd(options: SlapdOptions = {}): Promise<SlapdHandle> {
  await assertInstalled();
  const dir = await mkdtemp(path.join(tmpdir(), "aesp-slapd-"));
  try {
    return await startIn(dir, options);
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

/** A CA certificate (PEM) that signed nothing the test directory presents: trusting only it must fail. */
export async function generateUnrelatedCaPem(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), "aesp-ca-"));
  try {
    return (await createCertificateAuthority(dir, "Unrelated test CA")).certPem;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function assertInstalled(): Promise<void> {
  for (const binary of [slapdBinary, slapaddBinary, "/usr/bin/openssl"]) {
    try {
      await access(binary);
    } catch {
      throw new Error(`${binary} is missing: the LDAP tests need a real OpenLDAP server. Install it with \`apt-get install -y slapd ldap-utils openssl\`.`);
    }
  }
}

async function startIn(dir: string, options: SlapdOptions): Promise<SlapdHandle> {
  const rootPassword = randomSecret();
  const servicePassword = randomSecret();
  const users: Record<SeededUid, SlapdUser> = {
    alice: person("alice", randomSecret()),
    bob: person("bob", randomSecret()),
    carol: person("carol", randomSecret()),
    dave: person("dave", randomSecret()),
  };
  const ca = await createCertificateAuthority(dir, "AESP test LDAP CA");
  await issueServerCertificate(dir, options.serverCertificateNames ?? ["IP:127.0.0.1", "DNS:localhost"]);
  await mkdir(path.join(dir, "db"));
  await writeFile(path.join(dir, "slapd.conf"), slapdConf(dir, rootPassword));
  await writeFile(path.join(dir, "seed.ldif"), seedLdif(users, servicePassword));
  await run(slapaddBinary, ["-f", path.join(dir, "slapd.conf"), "-l", path.join(dir, "seed.ldif")]);

  const { child, plainPort, securePort } = await launch(dir);
  const url = `ldap://127.0.0.1:${plainPort}`;
  const ldapsUrl = `ldaps://127.0.0.1:${securePort}`;
  const killOnExit = (): void => {
    if (child.exitCode === null) child.kill("SIGKILL");
  };
  process.once("exit", killOnExit);

  const admin = async <T>(work: (client: Client) => Promise<T>): Promise<T> => {
    // Trusts only its own CA but skips the host-name check: a wrong name may be what a test is about.
    const client = new Client({ url: ldapsUrl, timeout: 5000, connectTimeout: 5000, tlsOptions: { ca: [ca.certPem], minVersion: "TLSv1.2", checkServerIdentity: () => undefined } });
    try {
      await client.bind(rootDn, rootPassword);
      return await work(client);
    } finally {
      await client.unbind();
    }
  };
  const replaceEmployeeType = (uid: string, values: string[]): Promise<void> =>
    admin((c) => c.modify(userDn(uid), new Change({ operation: "replace", modification: new Attribute({ type: "employeeType", values }) })));

  try {
    await waitUntilAnswering(child, admin);
    // Groups are added over the wire, not by slapadd, so the memberof overlay writes memberOf.
    // Children first: the overlay only annotates members that already exist.
    await admin(async (client) => {
      await addGroup(client, "engineers", [users.alice.dn]);
      await addGroup(client, "staff", [groupDnOf("engineers"), users.bob.dn]);
      await addGroup(client, "aesp-admins", [groupDnOf("staff")]);
      await addGroup(client, "loop-a", [users.dave.dn]);
      await addGroup(client, "loop-b", [groupDnOf("loop-a")]);
      await client.modify(groupDnOf("loop-a"), new Change({ operation: "add", modification: new Attribute({ type: "member", values: [groupDnOf("loop-b")] }) }));
    });
  } catch (err) {
    killOnExit();
    throw err;
  }

  let stopped = false;
  return {
    url,
    ldapsUrl,
    caPem: ca.certPem,
    baseDn,
    peopleDn,
    groupsDn,
    serviceBindDn: `cn=svc,${peopleDn}`,
    servicePassword,
    users,
    groupDn: groupDnOf,
    async addUser(uid, password) {
      const added = person(uid, password);
      await admin((c) => c.add(added.dn, { objectClass: ["inetOrgPerson"], uid, cn: uid, sn: uid, mail: `${uid}@example.com`, userPassword: sshaHash(password) }));
      return added;
    },
    disableUser: (uid) => replaceEmployeeType(uid, ["disabled"]),
    enableUser: (uid) => replaceEmployeeType(uid, []),
    deleteUser: (uid) => admin((c) => c.del(userDn(uid))),
    addToGroup: (groupCn, memberDn) =>
      admin((c) => c.modify(groupDnOf(groupCn), new Change({ operation: "add", modification: new Attribute({ type: "member", values: [memberDn] }) }))),
    async stop() {
      if (stopped) return;
      stopped = true;
      process.removeListener("exit", killOnExit);
      await terminate(child, dir);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function person(uid: string, password: string): SlapdUser {
  return { uid, dn: userDn(uid), password };
}

function userDn(uid: string): string {
  return `uid=${uid},${peopleDn}`;
}

function groupDnOf(cn: string): string {
  return `cn=${cn},${groupsDn}`;
}

function randomSecret(): string {
  return randomBytes(18).toString("base64url");
}

/** RFC 2307 `{SSHA}`: the directory stores no clear-text password. */
function sshaHash(password: string): string {
  const salt = randomBytes(8);
  const digest = createHash("sha1").update(password).update(salt).digest();
  return `{SSHA}${Buffer.concat([digest, salt]).toString("base64")}`;
}

async function addGroup(client: Client, cn: string, members: string[]): Promise<void> {
  await client.add(groupDnOf(cn), { objectClass: ["groupOfNames"], cn, member: members });
}

function slapdConf(dir: string, rootPassword: string): string {
  return `include ${schemaDir}/core.schema
include ${schemaDir}/cosine.schema
include ${schemaDir}/inetorgperson.schema
include ${schemaDir}/nis.schema
modulepath ${moduleDir}
moduleload back_mdb
moduleload memberof
pidfile ${path.join(dir, "slapd.pid")}
argsfile ${path.join(dir, "slapd.args")}
TLSCACertificateFile ${path.join(dir, "ca.pem")}
TLSCertificateFile ${path.join(dir, "server.pem")}
TLSCertificateKeyFile ${path.join(dir, "server.key")}
TLSProtocolMin 3.3
disallow bind_anon

database mdb
maxsize 67108864
suffix "${baseDn}"
rootdn "${rootDn}"
rootpw ${sshaHash(rootPassword)}
directory ${path.join(dir, "db")}
index objectClass eq
index uid,cn,member,entryUUID eq
access to attrs=userPassword
  by self write
  by anonymous auth
  by * none
access to *
  by users read
  by * none

overlay memberof
memberof-group-oc groupOfNames
memberof-member-ad member
memberof-memberof-ad memberOf
memberof-refint TRUE
`;
}

function seedLdif(users: Readonly<Record<SeededUid, SlapdUser>>, servicePassword: string): string {
  const entries = [
    `dn: ${baseDn}\nobjectClass: dcObject\nobjectClass: organization\ndc: example\no: Example`,
    `dn: ${peopleDn}\nobjectClass: organizationalUnit\nou: people`,
    `dn: ${groupsDn}\nobjectClass: organizationalUnit\nou: groups`,
    `dn: cn=svc,${peopleDn}\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\ncn: svc\nuserPassword: ${sshaHash(servicePassword)}`,
  ];
  const names: Record<SeededUid, string> = { alice: "Alice Anders", bob: "Bob Berg", carol: "Carol Chen", dave: "Dave Doe" };
  for (const [uid, user] of Object.entries(users) as [SeededUid, SlapdUser][]) {
    const lines = [`dn: ${user.dn}`, "objectClass: inetOrgPerson", `uid: ${uid}`, `cn: ${names[uid]}`, `sn: ${names[uid].split(" ")[1] ?? uid}`];
    lines.push(`displayName: ${names[uid]}`, `mail: ${uid}@example.com`, `departmentNumber: ${uid === "alice" ? "R&D" : "Ops"}`, `userPassword: ${sshaHash(user.password)}`);
    if (uid === "carol") lines.push("employeeType: disabled");
    entries.push(lines.join("\n"));
  }
  return `${entries.join("\n\n")}\n`;
}

interface CertificateAuthority {
  readonly certPem: string;
}

async function createCertificateAuthority(dir: string, commonName: string): Promise<CertificateAuthority> {
  await run("openssl", [
    "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
    "-keyout", path.join(dir, "ca.key"), "-out", path.join(dir, "ca.pem"), "-subj", `/CN=${commonName}`,
    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
  ]);
  return { certPem: await readFile(path.join(dir, "ca.pem"), "utf8") };
}

async function issueServerCertificate(dir: string, names: readonly string[]): Promise<void> {
  await writeFile(
    path.join(dir, "server.ext"),
    `basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=${names.join(",")}\n`,
  );
  await run("openssl", [
    "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
    "-keyout", path.join(dir, "server.key"), "-out", path.join(dir, "server.csr"), "-subj", "/CN=test directory",
  ]);
  await run("openssl", [
    "x509", "-req", "-in", path.join(dir, "server.csr"), "-CA", path.join(dir, "ca.pem"), "-CAkey", path.join(dir, "ca.key"),
    "-set_serial", `0x${randomBytes(8).toString("hex")}`, "-days", "2", "-extfile", path.join(dir, "server.ext"), "-out", path.join(dir, "server.pem"),
  ]);
}

/** Runs slapd in the foreground (`-d 0`) so its exit and stderr are observable. */
async function launch(dir: string): Promise<{ child: ChildProcess; plainPort: number; securePort: number }> {
  // A free port found by binding port 0 can be taken again before slapd binds it: retry a few times.
  for (let attempt = 1; ; attempt++) {
    const [plainPort, securePort] = await freePortPair();
    const urls = `ldap://127.0.0.1:${plainPort}/ ldaps://127.0.0.1:${securePort}/`;
    // As root slapd simply keeps running as root; `-u` would only matter for a system install.
    const child = spawn(slapdBinary, ["-f", path.join(dir, "slapd.conf"), "-h", urls, "-d", "0"], { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr?.setEncoding("utf8");
    child.stderr?.on("data", (chunk: string) => {
      stderr = (stderr + chunk).slice(-4000);
    });
    // The pipe is a socket; unref'd so a test that forgets stop() still lets the runner exit.
    (child.stderr as unknown as net.Socket | null)?.unref();
    child.unref();
    const exited = once(child, "exit").then(() => true);
    const settled = await Promise.race([exited, sleep(300).then(() => false)]);
    if (!settled) return { child, plainPort, securePort };
    if (attempt >= 3 || !/address already in use/i.test(stderr)) throw new Error(`slapd exited during start-up (code ${String(child.exitCode)}): ${stderr.trim()}`);
  }
}

async function freePortPair(): Promise<[number, number]> {
  const servers = await Promise.all(
    [0, 1].map(async () => {
      const server = net.createServer();
      server.listen(0, "127.0.0.1");
      await once(server, "listening");
      return server;
    }),
  );
  const [first, second] = servers.map((s) => (s.address() as AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  if (first === undefined || second === undefined) throw new Error("no free loopback ports");
  return [first, second];
}

async function waitUntilAnswering(child: ChildProcess, admin: (work: (client: Client) => Promise<void>) => Promise<void>): Promise<void> {
  const deadline = Date.now() + startupDeadlineMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`slapd exited with code ${child.exitCode} before answering`);
    try {
      await admin(async () => {});
      return;
    } catch (err) {
      lastError = err;
      await sleep(100);
    }
  }
  throw new Error(`slapd did not answer within ${startupDeadlineMs} ms`, { cause: lastError });
}

async function terminate(child: ChildProcess, dir: string): Promise<void> {
  const pid = await readFile(path.join(dir, "slapd.pid"), "utf8").then((text) => Number.parseInt(text.trim(), 10), () => child.pid);
  if (pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, "exit");
  process.kill(pid, "SIGTERM");
  const patience = new AbortController();
  const gone = await Promise.race([exited.then(() => true), sleep(5000, false, { signal: patience.signal }).catch(() => false)]);
  patience.abort();
  if (!gone) {
    child.kill("SIGKILL");
    await exited;
  }
}

async function run(command: string, args: readonly string[]): Promise<void> {
  const child = spawn(command, args, { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (chunk: string) => {
    stderr += chunk;
  });
  const [code] = (await once(child, "exit")) as [number | null];
  if (code !== 0) throw new Error(`${command} ${args.slice(0, 2).join(" ")} … failed (exit ${String(code)}): ${stderr.trim()}`);
}
