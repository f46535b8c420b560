// Hand-edited copy of generated/vfio/codecs/x86_64.ts (vfio.h 7.2.13) for bench/codecs.ts --variants.
// Variant A.view: encodeInto writes through the caller's DataView at offset + k (write$ takes (v, o, value)) after an arithmetic bounds check: no `new Uint8Array(view.buffer, ...)` and no `viewOf` DataView (the zero-fill view stays).
// Decoders of the fixed parts are the generated ones (no variant changes them).
import type { Codec, FlexCodec } from '../../runtime/codec.js';
import { int, list, u64, viewOf } from '../../runtime/encoding.js';
import * as G from '../../generated/vfio/codecs/x86_64.js';
import type { VfioIommuType1DmaMap, VfioIrqSet, VfioRegionInfo } from '../../generated/vfio/types.js';
import { fits, fitsView } from './checks.js';

void [int, list, u64, viewOf, fits, fitsView];

export const name = 'A.view';
export const description = "encodeInto writes through the caller's DataView at offset + k (write$ takes (v, o, value)) after an arithmetic bounds check: no `new Uint8Array(view.buffer, ...)` and no `viewOf` DataView (the zero-fill view stays)";

function write$vfio_region_info(v: DataView, o: number, value: Partial<VfioRegionInfo>): void {
  if (value.argsz !== undefined) {
    v.setUint32(o, int(value.argsz, 0, 4294967295, "vfio_region_info.argsz"), true);
  }
  if (value.flags !== undefined) {
    v.setUint32(o + 4, int(value.flags, 0, 4294967295, "vfio_region_info.flags"), true);
  }
  if (value.index !== undefined) {
    v.setUint32(o + 8, int(value.index, 0, 4294967295, "vfio_region_info.index"), true);
  }
  if (value.cap_offset !== undefined) {
    v.setUint32(o + 12, int(value.cap_offset, 0, 4294967295, "vfio_region_info.cap_offset"), true);
  }
  if (value.size !== undefined) {
    v.setBigUint64(o + 16, u64(value.size, "vfio_region_info.size"), true);
  }
  if (value.offset !== undefined) {
    v.setBigUint64(o + 24, u64(value.offset, "vfio_region_info.offset"), true);
  }
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
    new Uint8Array(view.buffer, view.byteOffset + offset, size).fill(0);
    write$vfio_region_info(view, offset, value);
  },
};

function write$vfio_irq_set(v: DataView, o: number, value: Partial<VfioIrqSet>): void {
  if (value.argsz !== undefined) {
    v.setUint32(o, int(value.argsz, 0, 4294967295, "vfio_irq_set.argsz"), true);
  }
  if (value.flags !== undefined) {
    v.setUint32(o + 4, int(value.flags, 0, 4294967295, "vfio_irq_set.flags"), true);
  }
  if (value.index !== undefined) {
    v.setUint32(o + 8, int(value.index, 0, 4294967295, "vfio_irq_set.index"), true);
  }
  if (value.start !== undefined) {
    v.setUint32(o + 12, int(value.start, 0, 4294967295, "vfio_irq_set.start"), true);
  }
  if (value.count !== undefined) {
    v.setUint32(o + 16, int(value.count, 0, 4294967295, "vfio_irq_set.count"), true);
  }
  if (value.data !== undefined) {
    const a7 = list(value.data, Infinity, "vfio_irq_set.data");
    for (let i8 = 0; i8 < a7.length; i8++) {
      v.setUint8(o + 20 + i8 * 1, int(a7[i8], 0, 255, "vfio_irq_set.data[]"));
    }
  }
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
    const n = count ?? Math.max(0, Math.floor((bytes.byteLength - offset - 20) / 1));
    const v = viewOf(bytes, offset + 20, n * 1, "struct vfio_irq_set");
    return new Uint8Array(v.buffer, v.byteOffset, n).slice();
  },
  decode: G.vfio_irq_set.decode,
  encode(value: Partial<VfioIrqSet>): Uint8Array {
    const n = value.data === undefined ? 0 : list(value.data, Infinity, "vfio_irq_set.data").length;
    const bytes = new Uint8Array(this.argszFor(n));
    write$vfio_irq_set(new DataView(bytes.buffer), 0, value);
    return bytes;
  },
  encodeInto(view: DataView, offset: number, value: Partial<VfioIrqSet>): void {
    const size = this.argszFor(value.data === undefined ? 0 : list(value.data, Infinity, "vfio_irq_set.data").length);
    fitsView(view, offset, size, "struct vfio_irq_set");
    new Uint8Array(view.buffer, view.byteOffset + offset, size).fill(0);
    write$vfio_irq_set(view, offset, value);
  },
};

function write$vfio_iommu_type1_dma_map(v: DataView, o: number, value: Partial<VfioIommuType1DmaMap>): void {
  if (value.argsz !== undefined) {
    v.setUint32(o, int(value.argsz, 0, 4294967295, "vfio_iommu_type1_dma_map.argsz"), true);
  }
  if (value.flags !== undefined) {
    v.setUint32(o + 4, int(value.flags, 0, 4294967295, "vfio_iommu_type1_dma_map.flags"), true);
  }
  if (value.vaddr !== undefined) {
    v.setBigUint64(o + 8, u64(value.vaddr, "vfio_iommu_type1_dma_map.vaddr"), true);
  }
  if (value.iova !== undefined) {
    v.setBigUint64(o + 16, u64(value.iova, "vfio_iommu_type1_dma_map.iova"), true);
  }
  if (value.size !== undefined) {
    v.setBigUint64(o + 24, u64(value.size, "vfio_iommu_type1_dma_map.size"), true);
  }
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
    new Uint8Array(view.buffer, view.byteOffset + offset, size).fill(0);
    write$vfio_iommu_type1_dma_map(view, offset, value);
  },
};

export { region, irq, dma };
