import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";
import { toHex } from "./encoding.ts";
import { CompactRange, consistencyProof, emptyRoot, inclusionProof, merkleRoot, verifyConsistency, verifyInclusion } from "./merkle.ts";
import { sha256 } from "./test-kit.test.ts";

const h = (hex: string): Uint8Array => new Uint8Array(Buffer.from(hex, "hex"));
const digest = (...parts: Uint8Array[]): Uint8Array => new Uint8Array(createHash("sha256").update(Buffer.concat(parts)).digest());
const hashLeafData = (data: Uint8Array): Uint8Array => digest(Uint8Array.of(0), data);

/** RFC 6962 §2.1 written out recursively, independent of the implementation under test. */
function naiveRoot(leaves: readonly Uint8Array[]): Uint8Array {
  if (leaves.length === 0) return digest();
  if (leaves.length === 1) return leaves[0]!;
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return digest(Uint8Array.of(1), naiveRoot(leaves.slice(0, k)), naiveRoot(leaves.slice(k)));
}

const syntheticLeaves = (n: number): Uint8Array[] => Array.from({ length: n }, (_, i) => hashLeafData(Uint8Array.of(i & 255, i >> 8, 7)));

// The Certificate Transparency test tree (RFC 6962 reference vectors, as used by
// certificate-transparency-go and transparency-dev/merkle).
const CT_LEAF_DATA = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"].map(h);
const CT_LEAVES = CT_LEAF_DATA.map(hashLeafData);
const CT_ROOTS = [
  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
  "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
  "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
  "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
  "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
  "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
  "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
  "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
  "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];
const CT_INCLUSION = [
  { index: 0, size: 8, proof: ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7", "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e", "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"] },
  { index: 5, size: 8, proof: ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b", "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0", "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"] },
  { index: 2, size: 3, proof: ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"] },
  { index: 1, size: 5, proof: ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d", "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e", "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"] },
];
const CT_CONSISTENCY = [
  { m: 1, n: 8, proof: ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7", "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e", "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"] },
  { m: 6, n: 8, proof: ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a", "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0", "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"] },
  { m: 2, n: 5, proof: ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e", "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"] },
  { m: 6, n: 7, proof: ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a", "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f", "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"] },
];

const flipBit = (proof: readonly Uint8Array[], i: number): Uint8Array[] =>
  proof.map((node, j) => (j === i ? Uint8Array.from(node, (byte, k) => (k === 0 ? byte ^ 8 : byte)) : node));

/** Tamperings of a valid inclusion proof, after transparency-dev/merkle's corruptInclusionProof. */
function corruptInclusion(leaf: Uint8Array, index: number, size: number, proof: Uint8Array[], root: Uint8Array) {
  const other = digest(Uint8Array.of(9));
  const probes = [
    { leaf, index: index - 1, size, proof, root },
    { leaf, index: index + 1, size, proof, root },
    { leaf, index: index ^ 2, size, proof, root },
    { leaf, index, size: size * 2, proof, root },
    { leaf, index, size: Math.floor(size / 2), proof, root },
    { leaf: other, index, size, proof, root },
    { leaf, index, size, proof, root: digest() },
    { leaf, index, size, proof: [...proof, new Uint8Array(0)], root },
    { leaf, index, size, proof: [...proof, root], root },
    { leaf, index, size, proof: [root, ...proof], root },
  ];
  for (let i = 0; i < proof.length; i++) probes.push({ leaf, index, size, proof: flipBit(proof, i), root });
  if (proof.length > 0) probes.push({ leaf, index, size, proof: proof.slice(0, -1), root });
  if (proof.length > 1) probes.push({ leaf, index, size, proof: [proof[0]!, other, ...proof.slice(1)], root });
  return probes;
}

/** Tamperings of a valid consistency proof, after transparency-dev/merkle's corruptConsistencyProof. */
function corruptConsistency(m: number, n: number, proof: Uint8Array[], oldRoot: Uint8Array, newRoot: Uint8Array) {
  const probes = [
    { m: m - 1, n, proof, oldRoot, newRoot },
    { m: m + 1, n, proof, oldRoot, newRoot },
    { m: m ^ 2, n, proof, oldRoot, newRoot },
    { m, n: n * 2, proof, oldRoot, newRoot },
    { m, n: Math.floor(n / 2), proof, oldRoot, newRoot },
    { m, n, proof, oldRoot: digest(Uint8Array.of(1)), newRoot },
    { m, n, proof, oldRoot, newRoot: digest(Uint8Array.of(2)) },
    { m, n, proof, oldRoot: newRoot, newRoot: oldRoot },
    { m, n, proof: [], oldRoot, newRoot },
    { m, n, proof: [...proof, new Uint8Array(0)], oldRoot, newRoot },
    { m, n, proof: [...proof, oldRoot], oldRoot, newRoot },
    { m, n, proof: [...proof, newRoot], oldRoot, newRoot },
    { m, n, proof: [oldRoot, ...proof], oldRoot, newRoot },
    { m, n, proof: [newRoot, ...proof], oldRoot, newRoot },
    { m, n, proof: [proof[0]!, ...proof], oldRoot, newRoot },
    { m, n, proof: proof.slice(0, -1), oldRoot, newRoot },
  ];
  for (let i = 0; i < proof.length; i++) probes.push({ m, n, proof: flipBit(proof, i), oldRoot, newRoot });
  return probes;
}

describe("Merkle tree hashing (RFC 6962)", () => {
  it("matches the RFC 6962 reference roots for sizes 0..8", () => {
    assert.equal(toHex(emptyRoot(sha256)), CT_ROOTS[0]);
    for (let n = 0; n <= 8; n++) assert.equal(toHex(merkleRoot(CT_LEAVES.slice(0, n), sha256)), CT_ROOTS[n], `size ${String(n)}`);
  });

  it("CompactRange agrees with the recursive definition at every size 0..70", () => {
    const leaves = syntheticLeaves(70);
    const range = new CompactRange(sha256);
    assert.deepEqual(range.root(), naiveRoot([]));
    for (let n = 1; n <= 70; n++) {
      range.append(leaves[n - 1]!);
      assert.equal(range.size, n);
      assert.deepEqual(range.root(), naiveRoot(leaves.slice(0, n)), `size ${String(n)}`);
    }
  });

  it("CompactRange resumes from a saved state and validates it", () => {
    const leaves = syntheticLeaves(45);
    const original = new CompactRange(sha256);
    leaves.slice(0, 29).forEach((leaf) => original.append(leaf));
    const state = original.state();
    assert.equal(state.nodes.length, 4, "29 = 16 + 8 + 4 + 1: one subtree per set bit");
    const resumed = new CompactRange(sha256, state);
    state.nodes[0]![0]! ^= 1; // the saved state is detached from both ranges
    for (const leaf of leaves.slice(29)) {
      original.append(leaf);
      resumed.append(leaf);
    }
    assert.deepEqual(resumed.root(), original.root());
    assert.deepEqual(resumed.root(), naiveRoot(leaves));
    assert.throws(() => new CompactRange(sha256, { size: 29, nodes: state.nodes.slice(1) }), RangeError);
    assert.throws(() => new CompactRange(sha256, { size: -1, nodes: [] }), RangeError);
  });

  it("does not alias appended leaf hashes", () => {
    const leaf = syntheticLeaves(1)[0]!.slice();
    const range = new CompactRange(sha256);
    range.append(leaf);
    leaf[0]! ^= 1;
    assert.deepEqual(range.root(), syntheticLeaves(1)[0]);
  });
});

describe("inclusion proofs (RFC 9162 §2.1.3)", () => {
  it("produces and verifies the reference proofs", () => {
    for (const vector of CT_INCLUSION) {
      const proof = inclusionProof(CT_LEAVES, vector.index, vector.size, sha256);
      assert.deepEqual(proof.map(toHex), vector.proof, `leaf ${String(vector.index)} of ${String(vector.size)}`);
      assert.ok(verifyInclusion(CT_LEAVES[vector.index]!, vector.index, vector.size, proof, h(CT_ROOTS[vector.size]!), sha256));
    }
  });

  it("proves every leaf of every tree up to 40 and rejects every tampering", () => {
    const leaves = syntheticLeaves(40);
    for (let size = 1; size <= 40; size++) {
      const root = naiveRoot(leaves.slice(0, size));
      for (let index = 0; index < size; index++) {
        const proof = inclusionProof(leaves, index, size, sha256);
        assert.ok(verifyInclusion(leaves[index]!, index, size, proof, root, sha256), `leaf ${String(index)} of ${String(size)}`);
        for (const probe of corruptInclusion(leaves[index]!, index, size, proof, root)) {
          assert.equal(verifyInclusion(probe.leaf, probe.index, probe.size, probe.proof, probe.root, sha256), false, JSON.stringify({ index, size }));
        }
      }
    }
  });

  it("rejects impossible positions and sizes", () => {
    const leaves = syntheticLeaves(4);
    assert.equal(verifyInclusion(leaves[0]!, 0, 0, [], digest(), sha256), false);
    assert.equal(verifyInclusion(leaves[0]!, 1, 1, [], leaves[0]!, sha256), false);
    assert.equal(verifyInclusion(leaves[0]!, 0, 1, [], leaves[0]!, sha256), true);
    assert.throws(() => inclusionProof(leaves, 4, 4, sha256), RangeError);
    assert.throws(() => inclusionProof(leaves, 0, 5, sha256), RangeError);
  });
});

describe("consistency proofs (RFC 9162 §2.1.4)", () => {
  it("produces and verifies the reference proofs", () => {
    for (const vector of CT_CONSISTENCY) {
      const proof = consistencyProof(CT_LEAVES, vector.m, vector.n, sha256);
      assert.deepEqual(proof.map(toHex), vector.proof, `${String(vector.m)} → ${String(vector.n)}`);
      assert.ok(verifyConsistency(vector.m, vector.n, proof, h(CT_ROOTS[vector.m]!), h(CT_ROOTS[vector.n]!), sha256));
    }
  });

  it("proves every pair of sizes up to 40 and rejects every tampering", () => {
    const leaves = syntheticLeaves(40);
    const roots = Array.from({ length: 41 }, (_, n) => naiveRoot(leaves.slice(0, n)));
    for (let n = 1; n <= 40; n++) {
      for (let m = 1; m < n; m++) {
        const proof = consistencyProof(leaves, m, n, sha256);
        assert.ok(verifyConsistency(m, n, proof, roots[m]!, roots[n]!, sha256), `${String(m)} → ${String(n)}`);
        for (const probe of corruptConsistency(m, n, proof, roots[m]!, roots[n]!)) {
          assert.equal(verifyConsistency(probe.m, probe.n, probe.proof, probe.oldRoot, probe.newRoot, sha256), false, `${String(m)} → ${String(n)}`);
        }
      }
    }
  });

  it("handles the trivial sizes as RFC 9162 does", () => {
    const a = digest(Uint8Array.of(1));
    const b = digest(Uint8Array.of(2));
    const empty = digest();
    assert.equal(verifyConsistency(0, 0, [], a, b, sha256), false, "equal sizes need equal roots");
    assert.equal(verifyConsistency(1, 1, [], a, b, sha256), false);
    assert.equal(verifyConsistency(0, 0, [], a, a, sha256), true);
    assert.equal(verifyConsistency(0, 1, [], a, b, sha256), true, "every tree extends the empty tree");
    assert.equal(verifyConsistency(1, 1, [], b, b, sha256), true);
    assert.equal(verifyConsistency(1, 0, [], a, b, sha256), false, "no time travel");
    assert.equal(verifyConsistency(2, 1, [], a, b, sha256), false);
    assert.equal(verifyConsistency(1, 2, [], a, b, sha256), false, "a real extension needs a proof");
    assert.equal(verifyConsistency(0, 0, [empty], empty, empty, sha256), false, "trivial proofs are empty");
    assert.equal(verifyConsistency(0, 1, [empty], empty, empty, sha256), false);
    assert.equal(verifyConsistency(1, 1, [empty], empty, empty, sha256), false);
    assert.deepEqual(consistencyProof(syntheticLeaves(3), 0, 3, sha256), []);
    assert.deepEqual(consistencyProof(syntheticLeaves(3), 3, 3, sha256), []);
    assert.throws(() => consistencyProof(syntheticLeaves(3), 4, 3, sha256), RangeError);
  });
});
