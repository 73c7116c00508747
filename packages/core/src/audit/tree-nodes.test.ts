import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";
import { consistencyProof, inclusionProof, merkleRoot, verifyConsistency, verifyInclusion } from "./merkle.ts";
import { completedNodes, consistencyProofFromNodes, frontierNodes, inclusionProofFromNodes, rootFromNodes, treeNodePosition } from "./tree-nodes.ts";
import type { TreeNode, TreeNodeReader } from "./tree-nodes.ts";
import { sha256 } from "./test-kit.test.ts";

const leafOf = (i: number): Uint8Array => new Uint8Array(createHash("sha256").update(Buffer.from([0, i & 255, (i >> 8) & 255, i >> 16])).digest());
const leavesOf = (n: number): Uint8Array[] => Array.from({ length: n }, (_, i) => leafOf(i));

const MIN_LEVEL = 2;
/** Hex, so that Buffers (what a Node hasher returns) and Uint8Arrays compare by content. */
const hex = (value: Uint8Array | readonly Uint8Array[]): string | string[] =>
  value instanceof Uint8Array ? Buffer.from(value).toString("hex") : value.map((v) => Buffer.from(v).toString("hex"));

/**
 * A store as the Host keeps one: leaves plus the perfect nodes at MIN_LEVEL and above that
 * `completedNodes` reported while the log grew in uneven batches. Lower nodes come from leaves.
 */
function grownStore(n: number, batch: (i: number) => number): { read: TreeNodeReader; reads: () => number } {
  const leaves: Uint8Array[] = [];
  const stored = new Map<number, Uint8Array>();
  const hashOf = (node: TreeNode): Uint8Array => {
    if (node.level < MIN_LEVEL) {
      const width = 2 ** node.level;
      return merkleRoot(leaves.slice(node.index * width, (node.index + 1) * width), sha256);
    }
    const hash = stored.get(treeNodePosition(node));
    assert.ok(hash !== undefined, `node ${node.level}/${node.index} was stored`);
    return hash;
  };
  for (let round = 0; leaves.length < n; round++) {
    const size = leaves.length;
    const added = leavesOf(Math.min(n, size + batch(round))).slice(size);
    const frontier = frontierNodes(size).map(hashOf);
    for (const node of completedNodes(size, frontier, added, sha256, MIN_LEVEL)) stored.set(treeNodePosition(node), node.hash);
    leaves.push(...added);
  }
  let calls = 0;
  return {
    read: async (nodes) => {
      calls += 1;
      return nodes.map(hashOf);
    },
    reads: () => calls,
  };
}

void describe("proofs from stored subtree nodes", () => {
  void it("equal merkle.ts's proofs and verify, for every tree size 1..70", async () => {
    const all = leavesOf(70);
    const { read } = grownStore(70, (round) => (round % 3) + 1);
    for (let size = 1; size <= 70; size++) {
      const root = merkleRoot(all.slice(0, size), sha256);
      assert.equal(hex(await rootFromNodes(size, read, sha256)), hex(root), `root ${size}`);
      for (let index = 0; index < size; index++) {
        const proof = await inclusionProofFromNodes(index, size, read, sha256);
        assert.deepEqual(hex(proof), hex(inclusionProof(all, index, size, sha256)), `inclusion ${index}/${size}`);
        assert.ok(verifyInclusion(all[index]!, index, size, proof, root, sha256));
      }
      for (let old = 0; old <= size; old++) {
        const proof = await consistencyProofFromNodes(old, size, read, sha256);
        assert.deepEqual(hex(proof), hex(consistencyProof(all, old, size, sha256)), `consistency ${old}→${size}`);
        assert.ok(verifyConsistency(old, size, proof, merkleRoot(all.slice(0, old), sha256), root, sha256));
      }
    }
  });

  void it("equal merkle.ts's proofs at random sizes, with one node read per proof", async () => {
    const n = 5000;
    const all = leavesOf(n);
    const store = grownStore(n, (round) => 1 + ((round * 7919) % 97));
    let seed = 12345;
    const random = (below: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % below;
    };
    for (let trial = 0; trial < 40; trial++) {
      const size = 1 + random(n);
      const index = random(size);
      const old = random(size + 1);
      const before = store.reads();
      assert.deepEqual(hex(await inclusionProofFromNodes(index, size, store.read, sha256)), hex(inclusionProof(all, index, size, sha256)));
      assert.deepEqual(hex(await consistencyProofFromNodes(old, size, store.read, sha256)), hex(consistencyProof(all, old, size, sha256)));
      assert.equal(store.reads() - before, old === 0 || old === size ? 1 : 2, "one read per proof (none for a trivial consistency proof)");
    }
  });

  void it("ask for O(log n) nodes", async () => {
    let asked = 0;
    const read: TreeNodeReader = async (nodes) => {
      asked = Math.max(asked, nodes.length);
      return nodes.map(() => new Uint8Array(32));
    };
    await inclusionProofFromNodes(123_456, 1_000_003, read, sha256);
    await consistencyProofFromNodes(777_777, 1_000_003, read, sha256);
    assert.ok(asked <= 2 * 21, `asked for ${asked} nodes`);
  });

  void it("refuse out-of-range positions and a frontier that does not match its size", async () => {
    const read: TreeNodeReader = async (nodes) => nodes.map(() => new Uint8Array(32));
    await assert.rejects(inclusionProofFromNodes(5, 5, read, sha256), RangeError);
    await assert.rejects(inclusionProofFromNodes(-1, 5, read, sha256), RangeError);
    await assert.rejects(consistencyProofFromNodes(6, 5, read, sha256), RangeError);
    assert.throws(() => completedNodes(3, [new Uint8Array(32)], [], sha256, 0), RangeError);
  });

  void it("name nodes by distinct in-order positions", () => {
    const seen = new Set<number>();
    for (let level = 0; level < 8; level++) for (let index = 0; index < 64; index++) seen.add(treeNodePosition({ level, index }));
    assert.equal(seen.size, 8 * 64);
    assert.deepEqual(frontierNodes(13), [
      { level: 3, index: 0 },
      { level: 2, index: 2 },
      { level: 0, index: 12 },
    ]);
  });
});
