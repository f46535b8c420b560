// Hand-edited copy of generated/vfio/codecs/x86_64.ts (vfio.h 7.2.13) for bench/codecs.ts --variants.
// Variant all-nocheck: all, without the int()/u64() checks: prices the validation (not a proposal).
// Decoders of the fixed parts are the generated ones (no variant changes them).
import type { Codec, FlexCodec } from '../../runtime/codec.js';
import { int, list, u64, viewOf } from '../../runtime/encoding.js';
import * as G from '../../generated/vfio/codecs/x86_64.js';
import type { VfioIommuType1DmaMap, VfioIrqSet, VfioRegionInfo } from '../../generated/vfio/types.js';
import { fits, fitsView } from './checks.js';

void [int, list, u64, viewOf, fits, fitsView];

export const name = 'all-nocheck';
export const description = 'all, without the int()/u64() checks: prices the validation (not a proposal)';

function write$vfio_region_info(v: DataView, o: number, value: Partial<VfioRegionInfo>): void {
  v.setUint32(o, value.argsz ?? 0, true);
  v.setUint32(o + 4, value.flags ?? 0, true);
  v.setUint32(o + 8, value.index ?? 0, true);
  v.setUint32(o + 12, value.cap_offset ?? 0, true);
  v.setBigUint64(o + 16, value.size ?? 0n, true);
  v.setBigUint64(o + 24, value.offset ?? 0n, true);
}

const region: Codec<VfioRegionInfo> = {
  cName: "struct vfio_region_info",
  size: 32,
  align: 8,
  fields: G.vfio_region_info.fields,
  decode: G.vfio_region_info.decode,
  encode(value: Partial<VfioRegionInfo>): Uint8Array {
    const bytes = new Uint8Array(32);
    write$vfio_region_info(new DataView(bytes.buffer), 0, value);
    return bytes;
  },
  encodeInto(view: DataView, offset: number, value: Partial<VfioRegionInfo>): void {
    const size = 32;
    fitsView(view, offset, size, "struct vfio_region_info");
    write$vfio_region_info(view, offset, value);
  },
};

function write$vfio_irq_set(v: DataView, o: number, value: Partial<VfioIrqSet>): void {
  v.setUint32(o, value.argsz ?? 0, true);
  v.setUint32(o + 4, value.flags ?? 0, true);
  v.setUint32(o + 8, value.index ?? 0, true);
  v.setUint32(o + 12, value.start ?? 0, true);
  v.setUint32(o + 16, value.count ?? 0, true);
  const a7 = value.data;
  if (a7 !== undefined) new Uint8Array(v.buffer, v.byteOffset + o + 20, a7.length).set(a7);
}

const irq: FlexCodec<VfioIrqSet, Uint8Array> = {
  cName: "struct vfio_irq_set",
  size: 20,
  align: 4,
  fields: G.vfio_irq_set.fields,
  flex: { path: "data", offset: 20, elementSize: 1 },
  argszFor(n: number): number {
    return Math.max(20, 20 + int(n, 0, 0x7fffffff, 'n') * 1);
  },
  decodeFlex(bytes: Uint8Array, offset = 0, count?: number): Uint8Array {
    const n = count ?? Math.max(0, bytes.byteLength - offset - 20);
    fits(bytes, offset + 20, n, "struct vfio_irq_set");
    return bytes.slice(offset + 20, offset + 20 + n);
  },
  decode: G.vfio_irq_set.decode,
  encode(value: Partial<VfioIrqSet>): Uint8Array {
    const n = value.data === undefined ? 0 : value.data.length;
    const bytes = new Uint8Array(this.argszFor(n));
    write$vfio_irq_set(new DataView(bytes.buffer), 0, value);
    return bytes;
  },
  encodeInto(view: DataView, offset: number, value: Partial<VfioIrqSet>): void {
    const size = this.argszFor(value.data === undefined ? 0 : value.data.length);
    fitsView(view, offset, size, "struct vfio_irq_set");
    write$vfio_irq_set(view, offset, value);
  },
};

function write$vfio_iommu_type1_dma_map(v: DataView, o: number, value: Partial<VfioIommuType1DmaMap>): void {
  v.setUint32(o, value.argsz ?? 0, true);
  v.setUint32(o + 4, value.flags ?? 0, true);
  v.setBigUint64(o + 8, value.vaddr ?? 0n, true);
  v.setBigUint64(o + 16, value.iova ?? 0n, true);
  v.setBigUint64(o + 24, value.size ?? 0n, true);
}

const dma: Codec<VfioIommuType1DmaMap> = {
  cName: "struct vfio_iommu_type1_dma_map",
  size: 32,
  align: 8,
  fields: G.vfio_iommu_type1_dma_map.fields,
  decode: G.vfio_iommu_type1_dma_map.decode,
  encode(value: Partial<VfioIommuType1DmaMap>): Uint8Array {
    const bytes = new Uint8Array(32);
    write$vfio_iommu_type1_dma_map(new DataView(bytes.buffer), 0, value);
    return bytes;
  },
  encodeInto(view: DataView, offset: number, value: Partial<VfioIommuType1DmaMap>): void {
    const size = 32;
    fitsView(view, offset, size, "struct vfio_iommu_type1_dma_map");
    write$vfio_iommu_type1_dma_map(view, offset, value);
  },
};

export { region, irq, dma };
