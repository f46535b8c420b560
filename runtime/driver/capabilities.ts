/**
 * Walking a VFIO capability chain.
 *
 * An info struct with capabilities (`vfio_device_info`, `vfio_region_info`,
 * `vfio_iommu_type1_info`, ...) has a `cap_offset` field; at that offset in the
 * info buffer starts a `struct vfio_info_cap_header { __u16 id; __u16 version;
 * __u32 next; }`, `next` being the offset of the following header from the
 * start of the info buffer, 0 ending the chain.
 *
 * The walk trusts nothing: every offset must leave room for a header inside the
 * buffer and be 4-byte aligned, and no offset may come back. Since Linux 6.6
 * ("vfio: align capability structures") `vfio_info_cap_add()` pads every
 * capability to 8 bytes, so kernel chains are 8-byte aligned; older kernels
 * could produce 4-aligned ones, hence the default minimum of 4.
 */

import { endianness as hostEndianness } from 'node:os';
import type { Codec } from '../codec/codec.js';
import { CapabilityChainError } from './errors.js';
import { checkCount } from './validate.js';

/** `sizeof(struct vfio_info_cap_header)`. */
export const CAP_HEADER_SIZE = 8;

/** One capability of a chain. */
export interface Capability {
  /** `id` (`VFIO_REGION_INFO_CAP_SPARSE_MMAP`, ...). */
  readonly id: number;
  readonly version: number;
  /** Offset of its header in the info buffer. */
  readonly offset: number;
  /** Offset of the next header, 0 for the last. */
  readonly next: number;
  /**
   * Its bytes, header included: from `offset` to the nearest following
   * capability of the chain, or to the end of the buffer (a view, not a copy).
   */
  readonly bytes: Uint8Array;
}

/** Options of {@link capabilities}. */
export interface CapabilityWalkOptions {
  /** Byte order of the headers; the running host's by default. */
  readonly endianness?: 'LE' | 'BE';
  /** Required alignment of every offset (default 4; 8 matches Linux ≥ 6.6). */
  readonly alignment?: number;
  /** Lowest valid offset, normally the info struct's fixed size: a capability may not overlap it (default 0). */
  readonly minOffset?: number;
}

/**
 * Iterates over the capability chain of `info` (the whole info buffer, e.g.
 * `ArgszResult.bytes`) starting at `capOffset` (0: no capabilities).
 *
 * The whole chain is validated before the first capability is yielded, so a
 * broken chain yields nothing. The walk makes at most one step per 4 bytes of
 * buffer.
 *
 * @throws CapabilityChainError on an offset out of range or below `minOffset`
 *   (`out-of-range`), a header that does not fit (`truncated`), a misaligned
 *   offset (`misaligned`), or an offset seen twice (`cycle`).
 */
export function* capabilities(
  info: Uint8Array,
  capOffset: number,
  options: CapabilityWalkOptions = {},
): Generator<Capability, void, undefined> {
  const chain = walk(info, capOffset, options);
  for (const offset of chain.offsets) yield chain.at(offset);
}

/** The validated chain: its header offsets in chain order, and the capability at one of them. */
function walk(info: Uint8Array, capOffset: number, options: CapabilityWalkOptions): { offsets: number[]; view: DataView; littleEndian: boolean; at(offset: number): Capability } {
  if (!(info instanceof Uint8Array)) throw new TypeError('info must be a Uint8Array');
  if (typeof capOffset !== 'number') throw new TypeError(`capOffset must be a number, got ${typeof capOffset}`);
  if (options === null || typeof options !== 'object') throw new TypeError('options must be an object');
  const endianness = options.endianness ?? hostEndianness();
  if (endianness !== 'LE' && endianness !== 'BE') throw new RangeError(`options.endianness must be 'LE' or 'BE', got ${String(endianness)}`);
  const littleEndian = endianness === 'LE';
  const alignment = checkCount(options.alignment ?? 4, 'options.alignment', 4096);
  if (alignment === 0 || (alignment & (alignment - 1)) !== 0) throw new RangeError(`options.alignment must be a power of two, got ${alignment}`);
  const minOffset = checkCount(options.minOffset ?? 0, 'options.minOffset');
  const view = new DataView(info.buffer, info.byteOffset, info.byteLength);

  // Validated in one pass; messages are built only on error (a 1 MiB chain has 131071 steps).
  const offsets: number[] = [];
  const seen = new Uint8Array((info.byteLength >>> 3) + 1); // one bit per byte offset
  let previous = -1;
  for (let offset = capOffset; offset !== 0; ) {
    const where = () => `${previous < 0 ? 'cap_offset' : `capability ${view.getUint16(previous, littleEndian)} at ${previous}: next`} points to ${offset}`;
    if (!Number.isInteger(offset) || offset < minOffset || offset >= info.byteLength) {
      throw new CapabilityChainError('out-of-range', offset,
        `${where()}, outside [${minOffset}, ${info.byteLength}) of the info buffer`);
    }
    if (offset % alignment !== 0) {
      throw new CapabilityChainError('misaligned', offset, `${where()}, not ${alignment}-byte aligned`);
    }
    if (seen[offset >>> 3]! & (1 << (offset & 7))) throw new CapabilityChainError('cycle', offset, `${where()}, already visited: a cycle`);
    if (offset + CAP_HEADER_SIZE > info.byteLength) {
      throw new CapabilityChainError('truncated', offset,
        `${where()}: its ${CAP_HEADER_SIZE}-byte header does not fit in the ${info.byteLength}-byte buffer`);
    }
    seen[offset >>> 3]! |= 1 << (offset & 7);
    offsets.push(offset);
    previous = offset;
    offset = view.getUint32(offset + 4, littleEndian);
  }

  // Each capability ends where the nearest following one starts: one sort, then a binary search each (linear-log, not quadratic).
  let starts: Float64Array | undefined;
  const at = (offset: number): Capability => {
    // A capability ends where the nearest following one starts: one sort, then a binary search each.
    starts ??= Float64Array.from(offsets).sort();
    let lo = 0;
    let hi = starts.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (starts[mid]! > offset) hi = mid; else lo = mid + 1;
    }
    const end = lo < starts.length ? starts[lo]! : info.byteLength;
    return {
      id: view.getUint16(offset, littleEndian),
      version: view.getUint16(offset + 2, littleEndian),
      offset,
      next: view.getUint32(offset + 4, littleEndian),
      bytes: info.subarray(offset, end),
    };
  };
  return { offsets, view, littleEndian, at };
}

/** The first capability with `id` in the chain, or `undefined`. Validates the whole chain like {@link capabilities}. */
export function findCapability(
  info: Uint8Array,
  capOffset: number,
  id: number,
  options?: CapabilityWalkOptions,
): Capability | undefined {
  const chain = walk(info, capOffset, options ?? {});
  for (const offset of chain.offsets) if (chain.view.getUint16(offset, chain.littleEndian) === id) return chain.at(offset);
  return undefined;
}

/**
 * Decodes `cap` with the codec of its structure (which starts with the
 * header), checking that it fits in the capability's bytes first.
 *
 * @throws CapabilityChainError (`truncated`) when `codec.size` exceeds the capability's extent.
 */
export function decodeCapability<T>(cap: Capability, codec: Codec<T>): T {
  if (codec.size > cap.bytes.byteLength) {
    throw new CapabilityChainError('truncated', cap.offset,
      `capability ${cap.id} at ${cap.offset} has ${cap.bytes.byteLength} bytes, ${codec.cName} needs ${codec.size}`);
  }
  return codec.decode(cap.bytes);
}
