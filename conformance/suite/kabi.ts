/**
 * Guest side: the running kernel's ABI as the manifest describes it (request
 * numbers, constants, record layouts of that kernel's own `vfio.h`), joined to
 * the generated bindings' codecs.
 *
 * Every request number the suite issues and every size it sends comes from the
 * manifest, so a wrong number or size there (or in the generator that computed
 * it) is what the kernel sees. Structs are encoded and decoded with the
 * generated codec of the same name when its layout agrees, field by field, with
 * the manifest's; where the kernel's header differs from the one the bindings
 * were generated from (an older kernel), a codec is built from the manifest.
 */
import { endianness } from 'node:os';
import * as iommufd from 'vfio-uapi/iommufd';
import * as vfio from 'vfio-uapi/vfio';
import type { Codec, FieldLayout, IoctlRequest } from 'vfio-uapi/runtime';
import type { Manifest, ManifestField, ManifestIoctl, ManifestRecord } from './types.js';


/** Whether this process is little-endian: kernel structs are in the ABI's (= the process's) byte order. */
const NATIVE_LE = endianness() === 'LE';

/** A decoded struct: integers (bigint for 8-byte ones), nested structs as objects, fixed arrays as bytes. */
export type Decoded = Record<string, any>;

/**
 * The struct each ioctl takes, where the suite knows it from the kernel's
 * documentation: used when the generator could not tell from a header
 * (5.10's comments say `_IORW`, which is no macro).
 */
const DOCUMENTED_ARGS: Record<string, string> = {
  VFIO_GROUP_GET_STATUS: 'vfio_group_status',
  VFIO_DEVICE_GET_INFO: 'vfio_device_info',
  VFIO_DEVICE_GET_REGION_INFO: 'vfio_region_info',
  VFIO_DEVICE_GET_IRQ_INFO: 'vfio_irq_info',
  VFIO_DEVICE_SET_IRQS: 'vfio_irq_set',
  VFIO_DEVICE_GET_PCI_HOT_RESET_INFO: 'vfio_pci_hot_reset_info',
  VFIO_DEVICE_PCI_HOT_RESET: 'vfio_pci_hot_reset',
  VFIO_DEVICE_IOEVENTFD: 'vfio_device_ioeventfd',
  VFIO_DEVICE_FEATURE: 'vfio_device_feature',
  VFIO_IOMMU_GET_INFO: 'vfio_iommu_type1_info',
  VFIO_IOMMU_MAP_DMA: 'vfio_iommu_type1_dma_map',
  VFIO_IOMMU_UNMAP_DMA: 'vfio_iommu_type1_dma_unmap',
  VFIO_IOMMU_DIRTY_PAGES: 'vfio_iommu_type1_dirty_bitmap',
  VFIO_MIG_GET_PRECOPY_INFO: 'vfio_precopy_info',
  // iommufd.h: each command's struct is named `iommu_<cmd>` (the header's kernel-doc says `ioctl(IOMMU_...)`).
  IOMMU_OPTION: 'iommu_option',
  IOMMU_IOAS_CHANGE_PROCESS: 'iommu_ioas_change_process',
};

/** How the suite got the codec of a record. */
export interface CodecSource {
  codec: Codec<Decoded>;
  /** `bindings` (the generated codec, as is or resized to the kernel's sizeof), or `manifest`. */
  from: 'bindings' | 'manifest';
  /** Why the generated codec was not used as is, if it was not. */
  note?: string;
}

/** The kernel's ABI, from the manifest, with codecs. */
export class KernelAbi {
  readonly #ioctls: Map<string, ManifestIoctl>;
  readonly #codecs = new Map<string, CodecSource>();

  constructor(readonly manifest: Manifest) {
    this.#ioctls = new Map(manifest.ioctls.map((i) => [i.name, i]));
  }

  /** Whether the header defines the integer constant `name`. */
  has(name: string): boolean {
    return name in this.manifest.constants;
  }

  /** The value of constant `name` (throws if the header lacks it, or it is beyond 2^53). */
  c(name: string): number {
    const v = this.manifest.constants[name];
    if (v === undefined) throw new Error(`the kernel's vfio.h has no ${name}`);
    if (typeof v !== 'number') throw new Error(`${name} = ${v} is not a safe integer`);
    return v;
  }

  /** The ioctl `name` of the header, or undefined. */
  ioctl(name: string): ManifestIoctl | undefined {
    return this.#ioctls.get(name);
  }

  /** The request of ioctl `name` for the runtime's `ioctl()`: the manifest's number, no argument checking. */
  request(name: string): IoctlRequest {
    const spec = this.#ioctls.get(name);
    if (!spec) throw new Error(`the kernel's vfio.h has no ioctl ${name}`);
    return { name, request: spec.number, fd: spec.fd };
  }

  /**
   * The struct ioctl `name` takes: from the manifest (the generator's reading
   * of the header), else from {@link DOCUMENTED_ARGS}; `note` says which.
   */
  argRecord(name: string): { record: string; note?: string } {
    const spec = this.#ioctls.get(name);
    if (spec?.arg.kind === 'struct') return { record: spec.arg.record };
    const documented = DOCUMENTED_ARGS[name];
    if (!documented) throw new Error(`${name}: no struct argument known`);
    const why = spec?.arg.kind === 'unknown' ? spec.arg.reason : `the generator reads its argument as ${spec?.arg.kind ?? 'absent'}`;
    return { record: documented, note: `argument struct ${documented} taken from the kernel documentation (${why})` };
  }

  /** The record `name` of the kernel's header (throws if absent). */
  record(name: string): ManifestRecord {
    const rec = this.manifest.records[name];
    if (!rec) throw new Error(`the kernel's vfio.h has no struct ${name}`);
    return rec;
  }

  /** `sizeof(struct name)` in the kernel's header. */
  sizeof(name: string): number {
    return this.record(name).size;
  }

  /** A member of record `name` (throws if absent). */
  field(name: string, path: string): ManifestField {
    const f = this.record(name).fields[path];
    if (!f) throw new Error(`struct ${name} has no member ${path} in the kernel's vfio.h`);
    return f;
  }

  /** `offsetofend(struct name, path)`: the kernel's usual `minsz`. */
  offsetofend(name: string, path: string): number {
    const f = this.field(name, path);
    return f.offset + f.size;
  }

  /** The codec of record `name` (see the module comment), memoised. */
  codec(name: string): CodecSource {
    let source = this.#codecs.get(name);
    if (!source) {
      source = this.#makeCodec(name);
      this.#codecs.set(name, source);
    }
    return source;
  }

  /**
   * Encodes `value` as record `name`: `sizeof` bytes of the kernel's header,
   * then `trailing` at its flexible array member. An `argsz` member left out
   * of `value` is set to the length of the result.
   */
  encode(name: string, value: Decoded, trailing?: Uint8Array): Uint8Array {
    const rec = this.record(name);
    const { codec } = this.codec(name);
    const fixed = codec.encode(value);
    let total = rec.size;
    let flexOffset = rec.size;
    if (trailing && trailing.byteLength > 0) {
      const flex = Object.values(rec.fields).find((f) => f.count === 0);
      if (!flex) throw new Error(`struct ${name} has no flexible array member`);
      flexOffset = flex.offset;
      total = Math.max(rec.size, flexOffset + trailing.byteLength);
    }
    const bytes = new Uint8Array(total);
    bytes.set(fixed.subarray(0, Math.min(fixed.byteLength, rec.size)));
    if (trailing) bytes.set(trailing, flexOffset);
    const argsz = rec.fields.argsz;
    if (argsz && value.argsz === undefined) new DataView(bytes.buffer).setUint32(argsz.offset, bytes.byteLength, NATIVE_LE);
    return bytes;
  }

  /** Decodes record `name` at `offset` of `bytes`. */
  decode(name: string, bytes: Uint8Array, offset = 0): Decoded {
    return this.codec(name).codec.decode(bytes, offset);
  }

  /** Capability record of `info`'s capability id `value`, per the kernel's header. */
  capability(info: string, value: number): { id: string; record?: string } | undefined {
    return this.manifest.capabilities.find((c) => c.info === info && c.value === value);
  }

  #makeCodec(name: string): CodecSource {
    const rec = this.record(name);
    if (rec.swapped) return { codec: manifestCodec(name, rec, !NATIVE_LE), from: 'manifest', note: `struct ${name} deliberately in the wrong byte order` };
    // The generated codecs of the header that defines it (vfio.h, else iommufd.h).
    const generated = ((vfio as unknown as Record<string, unknown>)[name] ?? (iommufd as unknown as Record<string, unknown>)[name]) as Codec<Decoded> | undefined;
    if (!generated || typeof generated.decode !== 'function') {
      return { codec: manifestCodec(name, rec), from: 'manifest', note: `the bindings have no struct ${name}` };
    }
    const mismatch = layoutMismatch(generated, rec);
    if (mismatch) return { codec: manifestCodec(name, rec), from: 'manifest', note: `bindings' struct ${name} differs from this header: ${mismatch}` };
    if (generated.size === rec.size) return { codec: generated, from: 'bindings' };
    if (generated.flex) {
      return { codec: manifestCodec(name, rec), from: 'manifest', note: `bindings' sizeof ${generated.size}, this header's ${rec.size}` };
    }
    return { codec: resized(generated, rec.size), from: 'bindings', note: `bindings' codec (sizeof ${generated.size}) used at this header's sizeof ${rec.size}` };
  }
}

/** Why the generated codec does not match the manifest record, or undefined if it does. */
function layoutMismatch(codec: Codec<unknown>, rec: ManifestRecord): string | undefined {
  const byPath = new Map<string, FieldLayout>(codec.fields.map((f) => [f.path, f]));
  for (const [path, f] of Object.entries(rec.fields)) {
    const g = byPath.get(path);
    if (!g) return `no member ${path}`;
    if (g.offset !== f.offset || g.size !== f.size) return `${path} at ${g.offset}+${g.size}, header has ${f.offset}+${f.size}`;
  }
  for (const g of codec.fields) {
    if (!(g.path in rec.fields) && g.offset < rec.size && !g.path.includes('.')) return `member ${g.path} not in this header`;
  }
  return undefined;
}

/** The generated codec used at another sizeof: members beyond it are dropped (encode) or read as zero (decode). */
function resized(codec: Codec<Decoded>, size: number): Codec<Decoded> {
  const scratch = Math.max(codec.size, size);
  return {
    cName: codec.cName,
    size,
    align: codec.align,
    fields: codec.fields.filter((f) => f.offset + f.size <= size),
    decode(bytes, offset = 0) {
      if (offset + size > bytes.byteLength) throw new RangeError(`${codec.cName}: need ${size} bytes at offset ${offset}, buffer has ${bytes.byteLength}`);
      const tmp = new Uint8Array(scratch);
      tmp.set(bytes.subarray(offset, offset + size));
      return codec.decode(tmp);
    },
    encode(value) {
      const out = new Uint8Array(size);
      out.set(codec.encode(value).subarray(0, size));
      return out;
    },
    encodeInto(view, offset, value) {
      new Uint8Array(view.buffer, view.byteOffset + offset, size).set(this.encode(value));
    },
  };
}

/** Whether a C integer type spelling is signed. */
function signedType(type: string): boolean {
  return /^(__s\d+|int|long|long long|short|signed char|char|__kernel_\w*_t)$/.test(type.trim()) && !/^__kernel_size_t$/.test(type.trim());
}

/**
 * A codec built from the manifest alone: integers of 1, 2, 4 (number) and 8
 * (bigint) bytes, nested structs as objects, fixed arrays as byte arrays,
 * flexible arrays left out. In the running process's byte order (the manifest
 * is for the ABI the guest runs).
 */
export function manifestCodec(name: string, rec: ManifestRecord, le = NATIVE_LE): Codec<Decoded> {
  const entries = Object.entries(rec.fields);
  const nestedPrefixes = new Set(entries.map(([p]) => p).filter((p) => entries.some(([q]) => q.startsWith(`${p}.`))));
  const leaves = entries.filter(([p, f]) => !nestedPrefixes.has(p) && f.count !== 0);
  const setPath = (obj: Decoded, path: string, v: unknown) => {
    const parts = path.split('.');
    let o = obj;
    for (const k of parts.slice(0, -1)) o = (o[k] ??= {});
    o[parts[parts.length - 1]!] = v;
  };
  const getPath = (obj: Decoded | undefined, path: string): unknown => path.split('.').reduce<any>((o, k) => (o === undefined ? undefined : o[k]), obj);
  const codec: Codec<Decoded> = {
    cName: `${rec.tag} ${name}`,
    size: rec.size,
    align: rec.align,
    fields: entries.map(([path, f]) => ({ path, offset: f.offset, size: f.size, type: f.type, count: f.count })),
    decode(bytes, offset = 0) {
      if (offset + rec.size > bytes.byteLength) throw new RangeError(`${codec.cName}: need ${rec.size} bytes at offset ${offset}, buffer has ${bytes.byteLength}`);
      const v = new DataView(bytes.buffer, bytes.byteOffset + offset, rec.size);
      const out: Decoded = {};
      for (const [path, f] of leaves) {
        if (f.count !== undefined) {
          setPath(out, path, bytes.slice(offset + f.offset, offset + f.offset + f.size));
          continue;
        }
        const signed = signedType(f.type);
        const value = f.size === 1 ? (signed ? v.getInt8(f.offset) : v.getUint8(f.offset))
          : f.size === 2 ? (signed ? v.getInt16(f.offset, le) : v.getUint16(f.offset, le))
            : f.size === 4 ? (signed ? v.getInt32(f.offset, le) : v.getUint32(f.offset, le))
              : f.size === 8 ? (signed ? v.getBigInt64(f.offset, le) : v.getBigUint64(f.offset, le))
                : bytes.slice(offset + f.offset, offset + f.offset + f.size);
        setPath(out, path, value);
      }
      return out;
    },
    encode(value) {
      const bytes = new Uint8Array(rec.size);
      codec.encodeInto(new DataView(bytes.buffer), 0, value);
      return bytes;
    },
    encodeInto(view, offset, value) {
      for (const [path, f] of leaves) {
        const x = getPath(value, path);
        if (x === undefined) continue;
        const at = offset + f.offset;
        if (x instanceof Uint8Array) { new Uint8Array(view.buffer, view.byteOffset + at, f.size).set(x.subarray(0, f.size)); continue; }
        if (f.size === 8) view.setBigUint64(at, BigInt.asUintN(64, BigInt(x as number | bigint)), le);
        else if (f.size === 4) view.setUint32(at, Number(x) >>> 0, le);
        else if (f.size === 2) view.setUint16(at, Number(x) & 0xffff, le);
        else if (f.size === 1) view.setUint8(at, Number(x) & 0xff);
      }
    },
  };
  return codec;
}
