/**
 * RFC 6962 / RFC 9162 Merkle tree hashing over audit leaf hashes.
 *
 * - MTH({})        = SHA-256("")
 * - MTH({d0})      = the leaf hash (leaves arrive already hashed: SHA-256(0x00 || event))
 * - MTH(D[n])      = SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n])), k the largest power of two < n
 *
 * {@link CompactRange} keeps the root of a growing log in O(log n) memory and
 * O(1) amortised hashing per append; the proof functions follow RFC 9162
 * §2.1.3 (inclusion) and §2.1.4 (consistency) literally.
 */
import type { Hasher } from "../ports.ts";
import { bytesEqual } from "./encoding.ts";
import { NODE_PREFIX } from "./canonical.ts";

const HASH_SIZE = 32;

/**
 * The interior node hash SHA-256(0x01 || left || right).
 *
 * @param hasher - The SHA-256 port.
 * @param left - 32-byte left child.
 * @param right - 32-byte right child.
 * @returns 32 bytes.
 */
export function hashChildren(hasher: Hasher, left: Uint8Array, right: Uint8Array): Uint8Array {
  const node = new Uint8Array(1 + 2 * HASH_SIZE);
  node[0] = NODE_PREFIX;
  node.set(left, 1);
  node.set(right, 1 + HASH_SIZE);
  return hasher.sha256(node);
}

/**
 * The root of the empty tree, SHA-256 of the empty string.
 *
 * @param hasher - The SHA-256 port.
 * @returns 32 bytes.
 */
export function emptyRoot(hasher: Hasher): Uint8Array {
  return hasher.sha256(new Uint8Array(0));
}

/**
 * The RFC 6962 Merkle tree hash of a list of leaf hashes.
 *
 * @param leafHashes - Leaf hashes in log order.
 * @param hasher - The SHA-256 port.
 * @returns The 32-byte root.
 */
export function merkleRoot(leafHashes: readonly Uint8Array[], hasher: Hasher): Uint8Array {
  const range = new CompactRange(hasher);
  for (const leaf of leafHashes) range.append(leaf);
  return range.root();
}

/** The persisted form of a {@link CompactRange}: enough to resume without rereading the log. */
export interface CompactRangeState {
  size: number;
  /** Roots of the perfect subtrees, largest (leftmost) first; one per set bit of `size`. */
  nodes: Uint8Array[];
}

/**
 * The right edge of a growing Merkle tree: one perfect-subtree root per set bit
 * of the size, largest first. Appending merges equal-sized neighbours, like
 * incrementing a binary counter; the root folds the stack right to left.
 */
export class CompactRange {
  readonly #hasher: Hasher;
  readonly #nodes: Uint8Array[];
  /** Reused 0x01 || left || right buffer: appends run millions of times during verification. */
  readonly #node = new Uint8Array(1 + 2 * HASH_SIZE);
  #size: number;

  /**
   * @param hasher - The SHA-256 port.
   * @param state - A previously saved state; omitted for the empty tree.
   * @throws RangeError when `state.nodes` does not have one node per set bit of `state.size`.
   */
  constructor(hasher: Hasher, state?: CompactRangeState) {
    this.#hasher = hasher;
    this.#size = state?.size ?? 0;
    this.#nodes = state === undefined ? [] : state.nodes.map(copyBytes);
    if (!Number.isSafeInteger(this.#size) || this.#size < 0 || this.#nodes.length !== popCount(this.#size)) {
      throw new RangeError("compact range state does not match its size");
    }
  }

  /** Number of leaves appended so far. */
  get size(): number {
    return this.#size;
  }

  /**
   * Appends one leaf hash.
   *
   * @param leafHash - 32 bytes; copied.
   */
  append(leafHash: Uint8Array): void {
    let node: Uint8Array = copyBytes(leafHash);
    // Each trailing one bit of the old size is a subtree of the new leaf's size to merge with.
    for (let carry = this.#size; (carry & 1) === 1; carry = Math.floor(carry / 2)) {
      node = this.#hashChildren(this.#nodes.pop()!, node);
    }
    this.#nodes.push(node);
    this.#size += 1;
  }

  /**
   * The RFC 6962 root of the leaves appended so far.
   *
   * @returns 32 bytes (a fresh array).
   */
  root(): Uint8Array {
    if (this.#nodes.length === 0) return copyBytes(emptyRoot(this.#hasher));
    let root = this.#nodes[this.#nodes.length - 1]!;
    for (let i = this.#nodes.length - 2; i >= 0; i--) root = this.#hashChildren(this.#nodes[i]!, root);
    return copyBytes(root);
  }

  #hashChildren(left: Uint8Array, right: Uint8Array): Uint8Array {
    this.#node[0] = NODE_PREFIX;
    this.#node.set(left, 1);
    this.#node.set(right, 1 + HASH_SIZE);
    return this.#hasher.sha256(this.#node);
  }

  /**
   * A copy of the state, to persist or to fork.
   *
   * @returns Size and subtree roots, detached from this range.
   */
  state(): CompactRangeState {
    return { size: this.#size, nodes: this.#nodes.map(copyBytes) };
  }
}

/**
 * The RFC 6962 §2.1.1 audit path (RFC 9162 inclusion proof) for leaf `index` in
 * the tree of the first `treeSize` leaves.
 *
 * @param leafHashes - At least `treeSize` leaf hashes in log order.
 * @param index - 0-based leaf position, `< treeSize`.
 * @param treeSize - Size of the tree the proof is against.
 * @param hasher - The SHA-256 port.
 * @returns Sibling hashes from the leaf upwards.
 * @throws RangeError when `index` or `treeSize` is out of range.
 */
export function inclusionProof(leafHashes: readonly Uint8Array[], index: number, treeSize: number, hasher: Hasher): Uint8Array[] {
  checkSize(treeSize, leafHashes.length);
  if (!Number.isSafeInteger(index) || index < 0 || index >= treeSize) throw new RangeError("leaf index out of range");
  return path(index, leafHashes, 0, treeSize, hasher);
}

/**
 * Verifies an inclusion proof (RFC 9162 §2.1.3.2).
 *
 * @param leafHash - The leaf's hash.
 * @param index - 0-based leaf position.
 * @param treeSize - Size of the tree `root` is for.
 * @param proof - The audit path.
 * @param root - The expected root of that tree.
 * @param hasher - The SHA-256 port.
 * @returns True iff the proof places `leafHash` at `index` under `root`.
 */
export function verifyInclusion(
  leafHash: Uint8Array,
  index: number,
  treeSize: number,
  proof: readonly Uint8Array[],
  root: Uint8Array,
  hasher: Hasher,
): boolean {
  if (!isSize(index) || !isSize(treeSize) || index >= treeSize) return false;
  if (leafHash.length !== HASH_SIZE || proof.some((node) => node.length !== HASH_SIZE)) return false;
  // fn/sn are node indices on the leaf's and the last leaf's paths; they exceed
  // 32 bits for huge logs, so shift by division rather than `>>`.
  let fn = index;
  let sn = treeSize - 1;
  let r = leafHash;
  for (const p of proof) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = hashChildren(hasher, p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn /= 2;
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = hashChildren(hasher, r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && bytesEqual(r, root);
}

/**
 * The RFC 6962 §2.1.2 consistency proof between the trees of the first
 * `oldSize` and `newSize` leaves.
 *
 * @param leafHashes - At least `newSize` leaf hashes in log order.
 * @param oldSize - The earlier size, `0 ≤ oldSize ≤ newSize`; 0 and `newSize` give an empty proof.
 * @param newSize - The later size.
 * @param hasher - The SHA-256 port.
 * @returns The proof nodes.
 * @throws RangeError when the sizes are out of range.
 */
export function consistencyProof(leafHashes: readonly Uint8Array[], oldSize: number, newSize: number, hasher: Hasher): Uint8Array[] {
  checkSize(newSize, leafHashes.length);
  if (!isSize(oldSize) || oldSize > newSize) throw new RangeError("old size out of range");
  if (oldSize === 0 || oldSize === newSize) return [];
  return subproof(oldSize, leafHashes, 0, newSize, true, hasher);
}

/**
 * Verifies a consistency proof (RFC 9162 §2.1.4.2): the tree with `oldRoot` is
 * a prefix of the tree with `newRoot`.
 *
 * @param oldSize - Size of the earlier tree.
 * @param newSize - Size of the later tree.
 * @param proof - The consistency proof.
 * @param oldRoot - Root of the earlier tree.
 * @param newRoot - Root of the later tree.
 * @param hasher - The SHA-256 port.
 * @returns True iff the proof shows the later tree extends the earlier one.
 */
export function verifyConsistency(
  oldSize: number,
  newSize: number,
  proof: readonly Uint8Array[],
  oldRoot: Uint8Array,
  newRoot: Uint8Array,
  hasher: Hasher,
): boolean {
  if (!isSize(oldSize) || !isSize(newSize) || oldSize > newSize) return false;
  if (oldSize === newSize) return proof.length === 0 && bytesEqual(oldRoot, newRoot);
  // Every tree extends the empty tree.
  if (oldSize === 0) return proof.length === 0;
  if (proof.length === 0 || proof.some((node) => node.length !== HASH_SIZE)) return false;
  const path = isPowerOfTwo(oldSize) ? [oldRoot, ...proof] : [...proof];
  let fn = oldSize - 1;
  let sn = newSize - 1;
  while (fn % 2 === 1) {
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  let fr = path[0]!;
  let sr = path[0]!;
  for (let i = 1; i < path.length; i++) {
    const c = path[i]!;
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      fr = hashChildren(hasher, c, fr);
      sr = hashChildren(hasher, c, sr);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn /= 2;
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      sr = hashChildren(hasher, sr, c);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && bytesEqual(fr, oldRoot) && bytesEqual(sr, newRoot);
}

/** MTH of leaves [start, start+n), via a compact range (O(n) hashing). */
function subtreeRoot(leafHashes: readonly Uint8Array[], start: number, n: number, hasher: Hasher): Uint8Array {
  const range = new CompactRange(hasher);
  for (let i = start; i < start + n; i++) range.append(leafHashes[i]!);
  return range.root();
}

/** PATH(m, D[start:start+n]) of RFC 6962 §2.1.1. */
function path(m: number, leafHashes: readonly Uint8Array[], start: number, n: number, hasher: Hasher): Uint8Array[] {
  if (n <= 1) return [];
  const k = largestPowerOfTwoBelow(n);
  if (m < k) return [...path(m, leafHashes, start, k, hasher), subtreeRoot(leafHashes, start + k, n - k, hasher)];
  return [...path(m - k, leafHashes, start + k, n - k, hasher), subtreeRoot(leafHashes, start, k, hasher)];
}

/** SUBPROOF(m, D[start:start+n], b) of RFC 6962 §2.1.2. */
function subproof(m: number, leafHashes: readonly Uint8Array[], start: number, n: number, complete: boolean, hasher: Hasher): Uint8Array[] {
  if (m === n) return complete ? [] : [subtreeRoot(leafHashes, start, n, hasher)];
  const k = largestPowerOfTwoBelow(n);
  if (m <= k) return [...subproof(m, leafHashes, start, k, complete, hasher), subtreeRoot(leafHashes, start + k, n - k, hasher)];
  return [...subproof(m - k, leafHashes, start + k, n - k, false, hasher), subtreeRoot(leafHashes, start, k, hasher)];
}

/** The largest power of two strictly less than n (n ≥ 2). */
function largestPowerOfTwoBelow(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

function isPowerOfTwo(n: number): boolean {
  return n > 0 && largestPowerOfTwoBelow(n * 2) === n;
}

/** A detached plain copy; `Buffer#slice` (what a Node hasher returns) would share memory. */
function copyBytes(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes);
}

function popCount(n: number): number {
  let count = 0;
  for (let rest = n; rest > 0; rest = Math.floor(rest / 2)) count += rest % 2;
  return count;
}

function isSize(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 0;
}

function checkSize(treeSize: number, available: number): void {
  if (!isSize(treeSize) || treeSize > available) throw new RangeError("tree size out of range");
}
