/**
 * Hand-written DataView codecs of the three benchmarked structs, for
 * little-endian LP64 ABIs (x86_64, aarch64, ppc64le, riscv64, loongarch64,
 * mips64el): what a careful engineer writes by hand.
 *
 * They check what would otherwise go silently wrong (a buffer too short for the
 * record at `offset` within the Uint8Array's own window, not just its
 * ArrayBuffer) and leave the rest to the TypeScript types and to DataView
 * itself: `setBigUint64` throws a TypeError on a non-bigint, `setUint32` wraps
 * numbers modulo 2^32. Values are complete records (no `Partial`), so no
 * zero-fill is needed: none of these structs has padding.
 *
 * Fresh buffers come from the runtime's `allocate` (as for the generated codecs
 * and koffi in the benchmark): the comparison is of the encoding, not of the
 * allocator.
 */
import type { VfioIommuType1DmaMap, VfioIrqSet, VfioRegionInfo } from 'vfio-uapi/vfio';
import { allocate, bufferView } from 'vfio-uapi/codegen-v1';

function short(what: string, need: number, offset: number, have: number): never {
  throw new RangeError(`${what}: need ${need} bytes at offset ${offset}, buffer has ${have}`);
}

// ---- struct vfio_region_info (32 bytes) ----------------------------------------

export function decodeRegionInfo(bytes: Uint8Array, offset = 0): VfioRegionInfo {
  if (offset + 32 > bytes.byteLength) short('vfio_region_info', 32, offset, bytes.byteLength);
  const v = new DataView(bytes.buffer, bytes.byteOffset + offset, 32);
  return {
    argsz: v.getUint32(0, true),
    flags: v.getUint32(4, true),
    index: v.getUint32(8, true),
    cap_offset: v.getUint32(12, true),
    size: v.getBigUint64(16, true),
    offset: v.getBigUint64(24, true),
  };
}

export function encodeRegionInfoInto(v: DataView, o: number, x: VfioRegionInfo): void {
  v.setUint32(o, x.argsz, true);
  v.setUint32(o + 4, x.flags, true);
  v.setUint32(o + 8, x.index, true);
  v.setUint32(o + 12, x.cap_offset, true);
  v.setBigUint64(o + 16, x.size, true);
  v.setBigUint64(o + 24, x.offset, true);
}

export function encodeRegionInfo(x: VfioRegionInfo): Uint8Array {
  const bytes = allocate(32);
  encodeRegionInfoInto(bufferView(bytes), bytes.byteOffset, x);
  return bytes;
}

// ---- struct vfio_irq_set (20 bytes + __u8 data[]) ----------------------------------

/** The header and the trailing data (the rest of the buffer, copied). */
export function decodeIrqSet(bytes: Uint8Array, offset = 0): VfioIrqSet {
  if (offset + 20 > bytes.byteLength) short('vfio_irq_set', 20, offset, bytes.byteLength);
  const v = new DataView(bytes.buffer, bytes.byteOffset + offset, 20);
  return {
    argsz: v.getUint32(0, true),
    flags: v.getUint32(4, true),
    index: v.getUint32(8, true),
    start: v.getUint32(12, true),
    count: v.getUint32(16, true),
    data: bytes.slice(offset + 20),
  };
}

export function encodeIrqSetInto(v: DataView, o: number, x: VfioIrqSet): void {
  v.setUint32(o, x.argsz, true);
  v.setUint32(o + 4, x.flags, true);
  v.setUint32(o + 8, x.index, true);
  v.setUint32(o + 12, x.start, true);
  v.setUint32(o + 16, x.count, true);
  const data = x.data;
  if (data !== undefined) new Uint8Array(v.buffer, v.byteOffset + o + 20, data.length).set(data);
}

export function encodeIrqSet(x: VfioIrqSet): Uint8Array {
  const data = x.data;
  const bytes = allocate(20 + (data === undefined ? 0 : data.length));
  encodeIrqSetInto(bufferView(bytes), bytes.byteOffset, x);
  return bytes;
}

// ---- struct vfio_iommu_type1_dma_map (32 bytes) --------------------------------------

export function decodeDmaMap(bytes: Uint8Array, offset = 0): VfioIommuType1DmaMap {
  if (offset + 32 > bytes.byteLength) short('vfio_iommu_type1_dma_map', 32, offset, bytes.byteLength);
  const v = new DataView(bytes.buffer, bytes.byteOffset + offset, 32);
  return {
    argsz: v.getUint32(0, true),
    flags: v.getUint32(4, true),
    vaddr: v.getBigUint64(8, true),
    iova: v.getBigUint64(16, true),
    size: v.getBigUint64(24, true),
  };
}

export function encodeDmaMapInto(v: DataView, o: number, x: VfioIommuType1DmaMap): void {
  v.setUint32(o, x.argsz, true);
  v.setUint32(o + 4, x.flags, true);
  v.setBigUint64(o + 8, x.vaddr, true);
  v.setBigUint64(o + 16, x.iova, true);
  v.setBigUint64(o + 24, x.size, true);
}

export function encodeDmaMap(x: VfioIommuType1DmaMap): Uint8Array {
  const bytes = allocate(32);
  encodeDmaMapInto(bufferView(bytes), bytes.byteOffset, x);
  return bytes;
}

/** The layout these codecs assume, to check against the generated field tables before timing. */
export const HANDWRITTEN_LAYOUT: Record<string, { size: number; fields: Record<string, number> }> = {
  vfio_region_info: { size: 32, fields: { argsz: 0, flags: 4, index: 8, cap_offset: 12, size: 16, offset: 24 } },
  vfio_irq_set: { size: 20, fields: { argsz: 0, flags: 4, index: 8, start: 12, count: 16, data: 20 } },
  vfio_iommu_type1_dma_map: { size: 32, fields: { argsz: 0, flags: 4, vaddr: 8, iova: 16, size: 24 } },
};
