/**
 * Merkle proofs from stored subtree hashes, so that a proof for any event in a
 * log of millions costs O(log n) reads instead of loading every leaf.
 *
 * Every node an RFC 6962 proof names is the root of a range of leaves
 * `[start, end)` that the RFC's recursion reaches; such a range starts at a
 * multiple of the power of two at or above its length, so it splits into at
 * most ⌈log₂ n⌉ *perfect* subtrees (aligned, power-of-two sized), largest
 * first, whose right-to-left fold is the range's root — exactly what a
 * {@link CompactRange} computes. A perfect subtree never changes once its last
 * leaf is appended, so the store may persist it at append time; the proof
 * functions here only plan which perfect nodes they need, fetch them in one
 * call, and fold. Correctness is checked against `merkle.ts`'s verifiers.
 */
import type { Hasher } from "../ports.ts";
import { hashChildren } from "./merkle.ts";

/** A perfect subtree: leaves `[index·2^level, (index+1)·2^level)`. Level 0 is one leaf. */
export interface TreeNode {
  readonly level: number;
  readonly index: number;
}

/** A completed perfect subtree and its hash, as the store persists it. */
export interface TreeNodeHash extends TreeNode {
  readonly hash: Uint8Array;
}

/** Reads hashes of perfect subtrees of the committed log, in the order asked. */
export type TreeNodeReader = (nodes: readonly TreeNode[]) => Promise<Uint8Array[]>;

/** A half-open range of leaves whose root one proof entry is. */
interface LeafRange {
  readonly start: number;
  readonly end: number;
}

/**
 * A single integer naming a perfect node: its in-order position in the
 * infinite tree, `index·2^(level+1) + 2^level − 1` (leaves are even, a level-l
 * node has l trailing one bits). Exact below 2^52 leaves.
 *
 * @param node - The node.
 * @returns Its position.
 */
export function treeNodePosition(node: TreeNode): number {
  const width = 2 ** node.level;
  return node.index * 2 * width + width - 1;
}

/**
 * The perfect subtrees making up the first `size` leaves (one per set bit of
 * `size`, largest first): the right edge a new leaf merges into.
 *
 * @param size - Number of leaves.
 * @returns The nodes, left to right.
 */
export function frontierNodes(size: number): TreeNode[] {
  return rangeNodes(0, size);
}

/**
 * Appends leaves to the tree whose right edge is `frontier` and returns every
 * perfect subtree the appends complete at `minLevel` or above, in completion order.
 *
 * @param size - Leaves before the append.
 * @param frontier - Hashes of {@link frontierNodes}(size), in that order.
 * @param leaves - The new leaf hashes, in log order.
 * @param hasher - The SHA-256 port.
 * @param minLevel - Smallest level to report (lower ones are cheap to recompute from leaves).
 * @returns Completed nodes with their hashes.
 * @throws RangeError when `frontier` does not match `size`.
 */
export function completedNodes(size: number, frontier: readonly Uint8Array[], leaves: readonly Uint8Array[], hasher: Hasher, minLevel: number): TreeNodeHash[] {
  const edge = frontierNodes(size);
  if (edge.length !== frontier.length) throw new RangeError("frontier does not match the tree size");
  const stack: TreeNodeHash[] = edge.map((node, i) => ({ ...node, hash: frontier[i]! }));
  const completed: TreeNodeHash[] = [];
  for (let i = 0; i < leaves.length; i++) {
    let node: TreeNodeHash = { level: 0, index: size + i, hash: leaves[i]! };
    while (stack.length > 0 && stack[stack.length - 1]!.level === node.level) {
      const left = stack.pop()!;
      node = { level: node.level + 1, index: left.index / 2, hash: hashChildren(hasher, left.hash, node.hash) };
      if (node.level >= minLevel) completed.push(node);
    }
    stack.push(node);
  }
  return completed;
}

/**
 * The RFC 9162 inclusion proof of leaf `index` in the tree of `treeSize` leaves,
 * from stored perfect-subtree hashes (one `read` call, O(log n) nodes).
 *
 * @param index - 0-based leaf position, `< treeSize`.
 * @param treeSize - Size of the tree the proof is against.
 * @param read - Reads perfect-node hashes.
 * @param hasher - The SHA-256 port.
 * @returns Sibling hashes from the leaf upwards, equal to `merkle.ts` `inclusionProof`.
 * @throws RangeError when `index` or `treeSize` is out of range.
 */
export async function inclusionProofFromNodes(index: number, treeSize: number, read: TreeNodeReader, hasher: Hasher): Promise<Uint8Array[]> {
  if (!isSize(treeSize)) throw new RangeError("tree size out of range");
  if (!Number.isSafeInteger(index) || index < 0 || index >= treeSize) throw new RangeError("leaf index out of range");
  const ranges: LeafRange[] = [];
  planPath(index, 0, treeSize, ranges);
  return foldRanges(ranges, read, hasher);
}

/**
 * The RFC 9162 consistency proof between the trees of `oldSize` and `newSize`
 * leaves, from stored perfect-subtree hashes.
 *
 * @param oldSize - The earlier size, `0 ≤ oldSize ≤ newSize`.
 * @param newSize - The later size.
 * @param read - Reads perfect-node hashes.
 * @param hasher - The SHA-256 port.
 * @returns The proof, equal to `merkle.ts` `consistencyProof`.
 * @throws RangeError when the sizes are out of range.
 */
export async function consistencyProofFromNodes(oldSize: number, newSize: number, read: TreeNodeReader, hasher: Hasher): Promise<Uint8Array[]> {
  if (!isSize(newSize)) throw new RangeError("tree size out of range");
  if (!isSize(oldSize) || oldSize > newSize) throw new RangeError("old size out of range");
  if (oldSize === 0 || oldSize === newSize) return [];
  const ranges: LeafRange[] = [];
  planSubproof(oldSize, 0, newSize, true, ranges);
  return foldRanges(ranges, read, hasher);
}

/**
 * The root of the first `treeSize` leaves, from stored perfect-subtree hashes.
 *
 * @param treeSize - Size of the tree, ≥ 1.
 * @param read - Reads perfect-node hashes.
 * @param hasher - The SHA-256 port.
 * @returns The RFC 6962 root.
 */
export async function rootFromNodes(treeSize: number, read: TreeNodeReader, hasher: Hasher): Promise<Uint8Array> {
  if (!isSize(treeSize) || treeSize === 0) throw new RangeError("tree size out of range");
  const [root] = await foldRanges([{ start: 0, end: treeSize }], read, hasher);
  return root!;
}

/** PATH(m, D[start:start+n]) of RFC 6962 §2.1.1, as the ranges whose roots it lists. */
function planPath(m: number, start: number, n: number, out: LeafRange[]): void {
  if (n <= 1) return;
  const k = largestPowerOfTwoBelow(n);
  if (m < k) {
    planPath(m, start, k, out);
    out.push({ start: start + k, end: start + n });
  } else {
    planPath(m - k, start + k, n - k, out);
    out.push({ start, end: start + k });
  }
}

/** SUBPROOF(m, D[start:start+n], b) of RFC 6962 §2.1.2, as ranges. */
function planSubproof(m: number, start: number, n: number, complete: boolean, out: LeafRange[]): void {
  if (m === n) {
    if (!complete) out.push({ start, end: start + n });
    return;
  }
  const k = largestPowerOfTwoBelow(n);
  if (m <= k) {
    planSubproof(m, start, k, complete, out);
    out.push({ start: start + k, end: start + n });
  } else {
    planSubproof(m - k, start + k, n - k, false, out);
    out.push({ start, end: start + k });
  }
}

/** Fetches the perfect nodes of every range in one read and folds each range to its root. */
async function foldRanges(ranges: readonly LeafRange[], read: TreeNodeReader, hasher: Hasher): Promise<Uint8Array[]> {
  const perRange = ranges.map((range) => rangeNodes(range.start, range.end - range.start));
  const unique = new Map<number, TreeNode>();
  for (const nodes of perRange) for (const node of nodes) unique.set(treeNodePosition(node), node);
  const wanted = [...unique.values()];
  const hashes = await read(wanted);
  if (hashes.length !== wanted.length) throw new RangeError("the node reader returned a different number of hashes");
  const byPosition = new Map<number, Uint8Array>();
  wanted.forEach((node, i) => byPosition.set(treeNodePosition(node), hashes[i]!));
  return perRange.map((nodes) => {
    let root = byPosition.get(treeNodePosition(nodes[nodes.length - 1]!))!;
    for (let i = nodes.length - 2; i >= 0; i--) root = hashChildren(hasher, byPosition.get(treeNodePosition(nodes[i]!))!, root);
    return root;
  });
}

/**
 * The perfect subtrees of leaves `[start, start+n)`, largest first. For the
 * ranges RFC 6962's recursion produces (start a multiple of the power of two
 * at or above n) these are n's set bits, so the fold equals MTH of the range.
 */
function rangeNodes(start: number, n: number): TreeNode[] {
  const nodes: TreeNode[] = [];
  let at = start;
  const end = start + n;
  while (at < end) {
    let level = 0;
    // Grow while the node stays aligned at `at` and inside the range.
    while (at % 2 ** (level + 1) === 0 && at + 2 ** (level + 1) <= end) level += 1;
    nodes.push({ level, index: at / 2 ** level });
    at += 2 ** level;
  }
  return nodes;
}

function largestPowerOfTwoBelow(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

function isSize(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 0;
}
