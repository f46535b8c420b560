/**
 * The generated bindings beyond layout (which the oracle test covers): flag
 * sets, the capability registry with the capability-chain walker, ioctl
 * descriptors on every ABI, and the function-like macros against C.
 */
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import * as vfio from '../generated/vfio/index.js';
import * as iommufd from '../generated/iommufd/index.js';
import type { FlagSet } from '../runtime/codec/encoding.js';
import type { Codec, FdKind } from '../runtime/codec/codec.js';
import { bindIoctls } from '../runtime/codec/bindings.js';
import { CAP_HEADER_SIZE, capabilities, decodeCapability, findCapability } from '../runtime/driver/capabilities.js';
import { CapabilityChainError } from '../runtime/driver/errors.js';
import { abiByName } from '../generator/abi/abis.js';
import { clangArgs, installedClangs, MIN_CLANG } from '../conformance/clang/toolchain.js';
import { ensureUapiTree } from '../conformance/clang/uapi-tree.js';
import { CORPUS, HAVE_CORPUS } from './helpers.js';

const execFileP = promisify(execFile);

/** The header version the committed bindings were generated from (their first line says). */
function generatedVersion(dir: 'vfio' | 'iommufd'): string {
  const first = readFileSync(join(import.meta.dirname, '..', 'generated', dir, 'index.ts'), 'utf8').split('\n')[0]!;
  const m = /from \S+ \(([^,]+), sha256/.exec(first);
  if (!m) throw new Error(`cannot read the header version from generated/${dir}/index.ts: ${first}`);
  return m[1]!;
}
const VFIO_H = join(CORPUS, generatedVersion('vfio'), 'vfio.h');
const IOMMUFD_H = join(CORPUS, generatedVersion('iommufd'), 'iommufd.h');

/** Every flag set a generated module exports, by export name. */
function flagSets(mod: Record<string, unknown>): [string, FlagSet<string>][] {
  return Object.entries(mod).filter((e): e is [string, FlagSet<string>] => {
    const v = e[1] as Partial<FlagSet<string>> | null;
    return typeof v === 'object' && v !== null && typeof v.field === 'string' && typeof v.decode === 'function' && typeof v.bits === 'object';
  });
}

const constants = vfio as unknown as Record<string, unknown>;

// -------------------------------------------------------------------------------------------------

describe('flag sets', () => {
  const sets = flagSets(vfio as unknown as Record<string, unknown>);

  it('exist for the flag fields, named <struct>_flags for a `flags` field, else <struct>_<field>_flags', () => {
    expect(sets.length).toBeGreaterThan(10);
    for (const [name, set] of sets) {
      const m = /^struct (\w+)\.(\w+)$/.exec(set.field);
      expect(m, `${name}.field = ${set.field}`).not.toBeNull();
      expect(name).toBe(m![2] === 'flags' ? `${m![1]}_flags` : `${m![1]}_${m![2]}_flags`);
      // The struct has a codec and the field is one of its members.
      const codec = constants[m![1]!] as Codec<unknown> | undefined;
      expect(codec?.cName, name).toBe(`struct ${m![1]}`);
      expect(codec!.fields.some((f) => f.path === m![2])).toBe(true);
    }
  });

  it('have single-bit flags whose values are the exported constants (masks too)', () => {
    for (const [name, set] of sets) {
      for (const [flag, bit] of Object.entries(set.bits)) {
        expect(bit > 0 && (bit & (bit - 1)) === 0, `${name}: ${flag} = ${bit} is a single bit`).toBe(true);
        expect(constants[flag], `${name}: ${flag}`).toBe(bit);
      }
      for (const [mask, value] of Object.entries(set.masks)) expect(constants[mask], `${name}: ${mask}`).toBe(value);
    }
    expect(vfio.vfio_region_info_flags.bits).toEqual({
      VFIO_REGION_INFO_FLAG_READ: vfio.VFIO_REGION_INFO_FLAG_READ,
      VFIO_REGION_INFO_FLAG_WRITE: vfio.VFIO_REGION_INFO_FLAG_WRITE,
      VFIO_REGION_INFO_FLAG_MMAP: vfio.VFIO_REGION_INFO_FLAG_MMAP,
      VFIO_REGION_INFO_FLAG_CAPS: vfio.VFIO_REGION_INFO_FLAG_CAPS,
    });
    expect([vfio.VFIO_REGION_INFO_FLAG_READ, vfio.VFIO_REGION_INFO_FLAG_WRITE, vfio.VFIO_REGION_INFO_FLAG_MMAP, vfio.VFIO_REGION_INFO_FLAG_CAPS]).toEqual([1, 2, 4, 8]);
    expect(vfio.vfio_irq_set_flags.bits).toEqual({
      VFIO_IRQ_SET_DATA_NONE: 1, VFIO_IRQ_SET_DATA_BOOL: 2, VFIO_IRQ_SET_DATA_EVENTFD: 4,
      VFIO_IRQ_SET_ACTION_MASK: 8, VFIO_IRQ_SET_ACTION_UNMASK: 16, VFIO_IRQ_SET_ACTION_TRIGGER: 32,
    });
    expect(vfio.vfio_irq_set_flags.bits.VFIO_IRQ_SET_ACTION_TRIGGER).toBe(vfio.VFIO_IRQ_SET_ACTION_TRIGGER);
  });

  it('tie VFIO_REGION_INFO_FLAG_* to vfio_region_info.flags and VFIO_IRQ_SET_DATA_*/ACTION_* to vfio_irq_set.flags', () => {
    const named = (re: RegExp) => Object.keys(constants).filter((k) => re.test(k)).sort();
    expect(vfio.vfio_region_info_flags.field).toBe('struct vfio_region_info.flags');
    expect(Object.keys(vfio.vfio_region_info_flags.bits).sort()).toEqual(named(/^VFIO_REGION_INFO_FLAG_/));
    expect(vfio.vfio_irq_set_flags.field).toBe('struct vfio_irq_set.flags');
    const irq = [...Object.keys(vfio.vfio_irq_set_flags.bits), ...Object.keys(vfio.vfio_irq_set_flags.masks)];
    const single = named(/^VFIO_IRQ_SET_(DATA|ACTION)_/).filter((k) => !k.endsWith('_TYPE_MASK'));
    expect(irq.filter((k) => single.includes(k)).sort()).toEqual(single);
    // No other flag set claims these constants.
    for (const [name, set] of sets) {
      if (set === (vfio.vfio_region_info_flags as unknown) || set === (vfio.vfio_irq_set_flags as unknown)) continue;
      for (const k of [...Object.keys(set.bits), ...Object.keys(set.masks)]) {
        expect(/^VFIO_REGION_INFO_FLAG_|^VFIO_IRQ_SET_(DATA|ACTION)_/.test(k), `${name} claims ${k}`).toBe(false);
      }
    }
  });

  // KNOWN GAP (reported, not fixed here): the masks defined right after struct vfio_irq_set
  // (VFIO_IRQ_SET_DATA_TYPE_MASK, VFIO_IRQ_SET_ACTION_TYPE_MASK) are not in the flag set's
  // `masks`, although runtime/encoding.ts's FlagSet.masks documents exactly this example.
  // `it.fails`: this turns red once the generator groups them; then make it a plain `it`.
  it.fails('KNOWN GAP: vfio_irq_set_flags.masks has VFIO_IRQ_SET_DATA_TYPE_MASK and VFIO_IRQ_SET_ACTION_TYPE_MASK', () => {
    expect(vfio.vfio_irq_set_flags.masks).toEqual({
      VFIO_IRQ_SET_DATA_TYPE_MASK: vfio.VFIO_IRQ_SET_DATA_TYPE_MASK,
      VFIO_IRQ_SET_ACTION_TYPE_MASK: vfio.VFIO_IRQ_SET_ACTION_TYPE_MASK,
    });
  });

  it('decode keeps unknown bits visible as 0x... strings, in bit order', () => {
    const f = vfio.vfio_region_info_flags;
    expect(f.decode(0)).toEqual([]);
    expect(f.decode(vfio.VFIO_REGION_INFO_FLAG_READ | vfio.VFIO_REGION_INFO_FLAG_MMAP)).toEqual(['VFIO_REGION_INFO_FLAG_READ', 'VFIO_REGION_INFO_FLAG_MMAP']);
    expect(f.decode(vfio.VFIO_REGION_INFO_FLAG_CAPS | 0x10 | 0x100)).toEqual(['VFIO_REGION_INFO_FLAG_CAPS', '0x10', '0x100']);
    expect(f.decode(0x80000000)).toEqual(['0x80000000']);
    expect(f.decode(-1)).toEqual([
      'VFIO_REGION_INFO_FLAG_READ', 'VFIO_REGION_INFO_FLAG_WRITE', 'VFIO_REGION_INFO_FLAG_MMAP', 'VFIO_REGION_INFO_FLAG_CAPS',
      ...Array.from({ length: 28 }, (_, i) => `0x${(2 ** (i + 4)).toString(16)}`),
    ]);
    // No bit is lost: the names and the 0x... strings add up to the value.
    for (const [, set] of sets) {
      for (const value of [0, 1, 0x5a5a5a5a, 0xffffffff, 0x80000001]) {
        const sum = set.decode(value).reduce((acc, n) => acc + (n.startsWith('0x') ? Number.parseInt(n, 16) : set.bits[n]!), 0);
        expect(sum).toBe(value >>> 0);
      }
    }
  });

  it('encode round-trips every subset of the flags, and decode(encode(x)) == x', () => {
    for (const [name, set] of sets) {
      const names = Object.keys(set.bits);
      for (let mask = 0; mask < 1 << names.length; mask++) {
        const subset = names.filter((_, i) => mask & (1 << i));
        const value = set.encode(subset);
        expect(value, name).toBe(subset.reduce((acc, n) => (acc | set.bits[n]!) >>> 0, 0));
        expect(set.decode(value), name).toEqual(subset);
      }
    }
    const trigger = vfio.vfio_irq_set_flags.encode(['VFIO_IRQ_SET_DATA_EVENTFD', 'VFIO_IRQ_SET_ACTION_TRIGGER']);
    expect(trigger).toBe(vfio.VFIO_IRQ_SET_DATA_EVENTFD | vfio.VFIO_IRQ_SET_ACTION_TRIGGER);
    expect(vfio.vfio_irq_set_flags.decode(trigger)).toEqual(['VFIO_IRQ_SET_DATA_EVENTFD', 'VFIO_IRQ_SET_ACTION_TRIGGER']);
  });

  it('encode rejects unknown names (also masks and 0x... strings), with the field in the message', () => {
    const f = vfio.vfio_region_info_flags as FlagSet<string>;
    expect(() => f.encode(['VFIO_REGION_INFO_FLAG_READ', 'VFIO_REGION_INFO_FLAG_EXEC'])).toThrow(TypeError);
    expect(() => f.encode(['VFIO_REGION_INFO_FLAG_EXEC'])).toThrow(/struct vfio_region_info\.flags: unknown flag VFIO_REGION_INFO_FLAG_EXEC/);
    expect(() => f.encode(['0x100'])).toThrow(TypeError);
    expect(() => (vfio.vfio_irq_set_flags as FlagSet<string>).encode(['VFIO_IRQ_SET_DATA_TYPE_MASK'])).toThrow(TypeError);
    expect(() => (vfio.vfio_region_info_flags as FlagSet<string>).encode(['VFIO_IRQ_SET_ACTION_TRIGGER'])).toThrow(TypeError);
  });

  // Names are looked up as own properties: inherited ones (`toString`) are unknown flags too.
  it('encode rejects names inherited from Object.prototype', () => {
    const f = vfio.vfio_region_info_flags as FlagSet<string>;
    expect(() => f.encode(['toString'])).toThrow(TypeError);
    expect(() => f.encode(['constructor'])).toThrow(TypeError);
  });
});

// -------------------------------------------------------------------------------------------------

describe('capability registry and chains', () => {
  const ri = vfio.vfio_region_info;
  const sparse = vfio.vfio_region_info_cap_sparse_mmap;
  const type = vfio.vfio_region_info_cap_type;
  const registry = (info: string, id: number) => vfio.CAPABILITIES.find((c) => c.info === info && c.idValue === id);

  it('lists ids that are exported constants of info structs with a cap_offset, with codecs that start with the header', () => {
    expect(vfio.CAPABILITIES.length).toBeGreaterThan(0);
    for (const cap of vfio.CAPABILITIES) {
      expect(constants[cap.id], cap.id).toBe(cap.idValue);
      const info = constants[cap.info] as Codec<unknown>;
      expect(info.fields.some((f) => f.path === 'cap_offset'), `${cap.info} has cap_offset`).toBe(true);
      if (cap.codec) {
        expect(cap.codec.fields[0]).toMatchObject({ path: 'header', offset: 0, size: CAP_HEADER_SIZE, type: 'struct vfio_info_cap_header' });
      }
    }
    // ids are unique per info struct
    const keys = vfio.CAPABILITIES.map((c) => `${c.info}/${c.idValue}`);
    expect(new Set(keys).size).toBe(keys.length);
    expect(registry('vfio_region_info', vfio.VFIO_REGION_INFO_CAP_SPARSE_MMAP)?.codec).toBe(sparse);
    expect(registry('vfio_region_info', vfio.VFIO_REGION_INFO_CAP_TYPE)?.codec).toBe(type);
    expect(registry('vfio_iommu_type1_info', vfio.VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE)?.codec).toBe(vfio.vfio_iommu_type1_info_cap_iova_range);
    expect(iommufd.CAPABILITIES).toEqual([]);
  });

  /**
   * `VFIO_REGION_TYPE_PCI_VENDOR_TYPE | 0x8086` as the __u32 field holds it. The constant is
   * `(1 << 31)`, the int -2147483648 as C computes it, so the plain `|` is negative in JS and the
   * encoder refuses it for a __u32 (C converts silently): `>>> 0` is needed.
   */
  const PCI_VENDOR_INTEL = (vfio.VFIO_REGION_TYPE_PCI_VENDOR_TYPE | 0x8086) >>> 0;

  /** A region-info buffer as the kernel returns it: the struct, a sparse-mmap cap (2 areas), a type cap. */
  function regionInfoWithCaps() {
    const areas = [{ offset: 0n, size: 0x1000n }, { offset: 0x3000n, size: 0x5000n }];
    const sparseAt = ri.size; // 32
    const sparseLen = sparse.argszFor(areas.length); // 16 + 2 * 16
    const typeAt = sparseAt + sparseLen; // 80, 8-aligned
    const total = typeAt + type.size;
    const buf = new Uint8Array(total);
    const view = new DataView(buf.buffer);
    ri.encodeInto(view, 0, {
      argsz: total, flags: vfio.VFIO_REGION_INFO_FLAG_READ | vfio.VFIO_REGION_INFO_FLAG_MMAP | vfio.VFIO_REGION_INFO_FLAG_CAPS,
      index: vfio.VFIO_PCI_BAR0_REGION_INDEX, cap_offset: sparseAt, size: 0x8000n, offset: 0n,
    });
    sparse.encodeInto(view, sparseAt, {
      header: { id: vfio.VFIO_REGION_INFO_CAP_SPARSE_MMAP, version: 1, next: typeAt }, nr_areas: areas.length, reserved: 0, areas,
    });
    type.encodeInto(view, typeAt, {
      header: { id: vfio.VFIO_REGION_INFO_CAP_TYPE, version: 1, next: 0 },
      type: PCI_VENDOR_INTEL, subtype: vfio.VFIO_REGION_SUBTYPE_INTEL_IGD_OPREGION,
    });
    return { buf, areas, sparseAt, typeAt, total };
  }

  it('walks a region-info chain built with the codecs and decodes each capability with its registered codec', () => {
    const { buf, areas, sparseAt, typeAt, total } = regionInfoWithCaps();
    const info = ri.decode(buf);
    expect(info).toEqual({ argsz: total, flags: 13, index: 0, cap_offset: sparseAt, size: 0x8000n, offset: 0n });
    expect(vfio.vfio_region_info_flags.decode(info.flags)).toContain('VFIO_REGION_INFO_FLAG_CAPS');

    const caps = [...capabilities(buf, info.cap_offset, { minOffset: ri.size, alignment: 8 })];
    expect(caps.map((c) => [c.id, c.version, c.offset, c.next, c.bytes.byteLength])).toEqual([
      [vfio.VFIO_REGION_INFO_CAP_SPARSE_MMAP, 1, sparseAt, typeAt, typeAt - sparseAt],
      [vfio.VFIO_REGION_INFO_CAP_TYPE, 1, typeAt, 0, total - typeAt],
    ]);
    const decoded = caps.map((cap) => {
      const entry = registry('vfio_region_info', cap.id);
      expect(entry, `capability ${cap.id} is registered`).toBeDefined();
      return decodeCapability(cap, entry!.codec!);
    });
    expect(decoded[0]).toEqual({ header: { id: vfio.VFIO_REGION_INFO_CAP_SPARSE_MMAP, version: 1, next: typeAt }, nr_areas: 2, reserved: 0 });
    expect(sparse.decodeFlex(caps[0]!.bytes, 0, (decoded[0] as { nr_areas: number }).nr_areas)).toEqual(areas);
    expect(sparse.decodeFlex(caps[0]!.bytes)).toEqual(areas); // "as many as the buffer holds": the cap's extent
    expect(decoded[1]).toEqual({
      header: { id: vfio.VFIO_REGION_INFO_CAP_TYPE, version: 1, next: 0 },
      type: PCI_VENDOR_INTEL, subtype: vfio.VFIO_REGION_SUBTYPE_INTEL_IGD_OPREGION,
    });
    expect(findCapability(buf, info.cap_offset, vfio.VFIO_REGION_INFO_CAP_TYPE)?.offset).toBe(typeAt);
    expect(findCapability(buf, info.cap_offset, vfio.VFIO_REGION_INFO_CAP_MSIX_MAPPABLE)).toBeUndefined();
    expect([...capabilities(buf, 0)]).toEqual([]); // cap_offset 0: no capabilities
  });

  /** The CapabilityChainError a walk throws (failing if it throws nothing or something else). */
  function walkError(buf: Uint8Array, capOffset: number, options = {}): CapabilityChainError {
    try {
      for (const _ of capabilities(buf, capOffset, options)) { /* drain */ }
    } catch (e) {
      expect(e).toBeInstanceOf(CapabilityChainError);
      return e as CapabilityChainError;
    }
    throw new Error('the walk did not throw');
  }

  function setNext(buf: Uint8Array, at: number, next: number) {
    new DataView(buf.buffer, buf.byteOffset).setUint32(at + 4, next, true); // the test runs on a little-endian host
  }

  it('reports cycles, out-of-range, misaligned and truncated chains as errors, promptly and before yielding anything', () => {
    const { buf, sparseAt, typeAt } = regionInfoWithCaps();
    const t0 = performance.now();
    const cases: [string, (b: Uint8Array) => void, number, string, number][] = [
      ['cycle back to the first', (b) => setNext(b, typeAt, sparseAt), sparseAt, 'cycle', sparseAt],
      ['self loop', (b) => setNext(b, typeAt, typeAt), sparseAt, 'cycle', typeAt],
      ['next past the end', (b) => setNext(b, typeAt, 4096), sparseAt, 'out-of-range', 4096],
      ['next into the fixed part', (b) => setNext(b, sparseAt, 8), sparseAt, 'out-of-range', 8],
      ['misaligned next', (b) => setNext(b, sparseAt, typeAt + 2), sparseAt, 'misaligned', typeAt + 2],
      ['header cut off at the end', (b) => setNext(b, typeAt, b.byteLength - 4), sparseAt, 'truncated', 96 - 4],
      ['cap_offset out of range', () => {}, 1 << 20, 'out-of-range', 1 << 20],
      ['negative cap_offset', () => {}, -8, 'out-of-range', -8],
      ['fractional cap_offset', () => {}, 32.5, 'out-of-range', 32.5],
    ];
    for (const [what, corrupt, capOffset, problem, offset] of cases) {
      const b = buf.slice();
      corrupt(b);
      const yielded: number[] = [];
      let err: unknown;
      try {
        for (const cap of capabilities(b, capOffset, { minOffset: ri.size })) yielded.push(cap.offset);
      } catch (e) {
        err = e;
      }
      expect(err, what).toBeInstanceOf(CapabilityChainError);
      expect((err as CapabilityChainError).problem, what).toBe(problem);
      expect((err as CapabilityChainError).offset, what).toBe(offset);
      expect(yielded, what).toEqual([]);
    }
    // 8-alignment (Linux >= 6.6) rejects a 4-aligned chain that the default accepts.
    const b4 = buf.slice();
    setNext(b4, sparseAt, typeAt + 4);
    expect(walkError(b4, sparseAt, { alignment: 8 }).problem).toBe('misaligned');
    // A long chain that loops at its end is found, not followed forever.
    const big = new Uint8Array(1 << 16);
    for (let at = 8; at < big.byteLength - 8; at += 8) setNext(big, at, at + 8);
    setNext(big, big.byteLength - 16, 8);
    expect(walkError(big, 8).problem).toBe('cycle');
    expect(performance.now() - t0).toBeLessThan(2000);
  });

  it('decodeCapability refuses a capability shorter than its codec', () => {
    const { buf, typeAt } = regionInfoWithCaps();
    const cut = buf.slice(0, typeAt + 12); // the type cap needs 16 bytes
    const cap = findCapability(cut, vfio.vfio_region_info.decode(buf).cap_offset, vfio.VFIO_REGION_INFO_CAP_TYPE)!;
    expect(() => decodeCapability(cap, type)).toThrow(CapabilityChainError);
    expect(() => decodeCapability(cap, type)).toThrow(/needs 16/);
  });
});

// -------------------------------------------------------------------------------------------------

/** The fd each vfio.h ioctl applies to, as the header's section banners say. */
const VFIO_FD: Record<string, FdKind> = {
  // "IOCTLs for VFIO file descriptor (/dev/vfio/vfio)"
  VFIO_GET_API_VERSION: 'container', VFIO_CHECK_EXTENSION: 'container', VFIO_SET_IOMMU: 'container',
  // "IOCTLs for GROUP file descriptors (/dev/vfio/$GROUP)"
  VFIO_GROUP_GET_STATUS: 'group', VFIO_GROUP_SET_CONTAINER: 'group', VFIO_GROUP_UNSET_CONTAINER: 'group', VFIO_GROUP_GET_DEVICE_FD: 'group',
  // "IOCTLs for DEVICE file descriptors"
  VFIO_DEVICE_GET_INFO: 'device', VFIO_DEVICE_GET_REGION_INFO: 'device', VFIO_DEVICE_GET_IRQ_INFO: 'device', VFIO_DEVICE_SET_IRQS: 'device',
  VFIO_DEVICE_RESET: 'device', VFIO_DEVICE_GET_PCI_HOT_RESET_INFO: 'device', VFIO_DEVICE_PCI_HOT_RESET: 'device',
  VFIO_DEVICE_QUERY_GFX_PLANE: 'device', VFIO_DEVICE_GET_GFX_DMABUF: 'device', VFIO_DEVICE_IOEVENTFD: 'device', VFIO_DEVICE_FEATURE: 'device',
  VFIO_DEVICE_BIND_IOMMUFD: 'device', VFIO_DEVICE_ATTACH_IOMMUFD_PT: 'device', VFIO_DEVICE_DETACH_IOMMUFD_PT: 'device',
  VFIO_MIG_GET_PRECOPY_INFO: 'device', // in the DEVICE section, though its text says "used on the migration data FD"
  // "API for Type1 VFIO IOMMU" and "Additional API for SPAPR TCE (Server POWERPC) IOMMU": the container
  VFIO_IOMMU_GET_INFO: 'container', VFIO_IOMMU_MAP_DMA: 'container', VFIO_IOMMU_UNMAP_DMA: 'container', VFIO_IOMMU_ENABLE: 'container',
  VFIO_IOMMU_DISABLE: 'container', VFIO_IOMMU_DIRTY_PAGES: 'container', VFIO_IOMMU_SPAPR_TCE_GET_INFO: 'container', VFIO_EEH_PE_OP: 'container',
  VFIO_IOMMU_SPAPR_REGISTER_MEMORY: 'container', VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY: 'container',
  VFIO_IOMMU_SPAPR_TCE_CREATE: 'container', VFIO_IOMMU_SPAPR_TCE_REMOVE: 'container',
};

/** The struct each iommufd.h ioctl takes (kernel-doc `struct X - ioctl(NAME)` above it). */
const IOMMUFD_ARG: Record<string, string> = {
  IOMMU_DESTROY: 'iommu_destroy', IOMMU_IOAS_ALLOC: 'iommu_ioas_alloc', IOMMU_IOAS_IOVA_RANGES: 'iommu_ioas_iova_ranges',
  IOMMU_IOAS_ALLOW_IOVAS: 'iommu_ioas_allow_iovas', IOMMU_IOAS_MAP: 'iommu_ioas_map', IOMMU_IOAS_MAP_FILE: 'iommu_ioas_map_file',
  IOMMU_IOAS_COPY: 'iommu_ioas_copy', IOMMU_IOAS_UNMAP: 'iommu_ioas_unmap', IOMMU_VFIO_IOAS: 'iommu_vfio_ioas',
  IOMMU_HWPT_ALLOC: 'iommu_hwpt_alloc', IOMMU_GET_HW_INFO: 'iommu_hw_info', IOMMU_HWPT_SET_DIRTY_TRACKING: 'iommu_hwpt_set_dirty_tracking',
  IOMMU_HWPT_GET_DIRTY_BITMAP: 'iommu_hwpt_get_dirty_bitmap', IOMMU_HWPT_INVALIDATE: 'iommu_hwpt_invalidate',
  IOMMU_FAULT_QUEUE_ALLOC: 'iommu_fault_alloc', IOMMU_VIOMMU_ALLOC: 'iommu_viommu_alloc', IOMMU_VDEVICE_ALLOC: 'iommu_vdevice_alloc',
  IOMMU_VEVENTQ_ALLOC: 'iommu_veventq_alloc', IOMMU_HW_QUEUE_ALLOC: 'iommu_hw_queue_alloc',
};
/**
 * iommufd ioctls whose struct the header does not name in the usual way: `struct iommu_option`'s
 * kernel-doc does not say ioctl(IOMMU_OPTION), and `struct iommu_ioas_change_process`'s says
 * ioctl(VFIO_IOAS_CHANGE_PROCESS) (sic). The generator gives {kind: 'unknown'} for both.
 */
const IOMMUFD_ARG_GAPS: Record<string, string> = { IOMMU_OPTION: 'iommu_option', IOMMU_IOAS_CHANGE_PROCESS: 'iommu_ioas_change_process' };

describe('ioctl descriptors', () => {
  const modules = [['vfio', vfio], ['iommufd', iommufd]] as const;

  it('every ioctl of IOCTL_SPECS has a number on every ABI, and binds to that ABI\'s codecs', async () => {
    for (const [header, mod] of modules) {
      const abis = await Promise.all(Object.entries(mod.byAbi).map(async ([a, load]) => [a, await load()] as [string, Record<string, unknown>]));
      expect(abis.map(([a]) => a).sort()).toEqual(Object.keys(vfio.byAbi).sort());
      const x86_64 = await mod.byAbi.x86_64();
      expect(new Set(mod.IOCTL_SPECS.map((s) => s.name)).size).toBe(mod.IOCTL_SPECS.length);
      for (const [abi, m] of abis) {
        const bound = bindIoctls(mod.IOCTL_SPECS, m);
        for (const spec of mod.IOCTL_SPECS) {
          const request = m[spec.name];
          expect(typeof request, `${header} ${spec.name} on ${abi}`).toBe('number');
          expect(Number.isInteger(request) && (request as number) > 0 && (request as number) <= 0xffffffff).toBe(true);
          // All are _IO(';', nr): type ';' everywhere, size 0; only the direction bits differ by ABI (_IOC_NONE).
          expect(((request as number) >>> 8) & 0xff, `${spec.name} on ${abi}`).toBe(0x3b);
          expect((request as number) & 0xffff, `${spec.name} on ${abi}`).toBe((x86_64 as unknown as Record<string, number>)[spec.name]! & 0xffff);
          const d = bound[spec.name]!;
          expect(d.request).toBe(request);
          if (spec.arg.kind === 'struct') {
            expect(d.arg.kind, `${spec.name} on ${abi}`).toBe('struct');
            expect((d.arg as { codec: Codec<unknown> }).codec).toBe(m[spec.arg.record]);
          }
        }
      }
    }
    // On the running ABI too, the exported constant is the descriptor's number.
    for (const [name, d] of Object.entries(vfio.ioctls)) expect(d.request, name).toBe(constants[name]);
  });

  it('VFIO_DEVICE_GET_INFO takes the vfio_device_info codec (out), SET_IRQS vfio_irq_set (in), GET_REGION_INFO vfio_region_info (inout)', () => {
    expect(vfio.ioctls.VFIO_DEVICE_GET_INFO).toEqual({
      name: 'VFIO_DEVICE_GET_INFO', request: vfio.VFIO_DEVICE_GET_INFO, fd: 'device',
      arg: { kind: 'struct', codec: vfio.vfio_device_info, direction: 'out' },
    });
    expect((vfio.ioctls.VFIO_DEVICE_GET_INFO!.arg as { codec: unknown }).codec).toBe(vfio.vfio_device_info);
    expect(vfio.ioctls.VFIO_DEVICE_SET_IRQS!.arg).toEqual({ kind: 'struct', codec: vfio.vfio_irq_set, direction: 'in' });
    expect(vfio.ioctls.VFIO_DEVICE_GET_REGION_INFO!.arg).toEqual({ kind: 'struct', codec: vfio.vfio_region_info, direction: 'inout' });
    expect(vfio.ioctls.VFIO_IOMMU_MAP_DMA!.arg).toEqual({ kind: 'struct', codec: vfio.vfio_iommu_type1_dma_map, direction: 'in' });
    expect(vfio.ioctls.VFIO_GET_API_VERSION!.arg).toEqual({ kind: 'none' });
    expect(vfio.ioctls.VFIO_GROUP_GET_DEVICE_FD!.arg).toEqual({ kind: 'string' });
    expect(vfio.ioctls.VFIO_SET_IOMMU!.arg).toEqual({ kind: 'scalar', cType: '__s32', direction: 'in' });
  });

  it('fd kinds follow the sections of vfio.h (container / group / device)', () => {
    expect(Object.fromEntries(vfio.IOCTL_SPECS.map((s) => [s.name, s.fd]))).toEqual(VFIO_FD);
    // Numbers repeat across fd kinds (VFIO_DEVICE_PCI_HOT_RESET == VFIO_IOMMU_MAP_DMA), never within a group or device fd.
    for (const kind of ['group', 'device'] as const) {
      const reqs = vfio.IOCTL_SPECS.filter((s) => s.fd === kind).map((s) => constants[s.name]);
      expect(new Set(reqs).size, kind).toBe(reqs.length);
    }
    expect(vfio.VFIO_DEVICE_PCI_HOT_RESET).toBe(vfio.VFIO_IOMMU_MAP_DMA);
  });

  it.skipIf(!HAVE_CORPUS)('the fd table above is what the section banners of vfio.h say', () => {
    const lines = readFileSync(VFIO_H, 'utf8').split('\n');
    let section: FdKind | undefined;
    const found: Record<string, FdKind> = {};
    for (let i = 0; i < lines.length; i++) {
      const banner = /^\/\* -+ (.*?) -+ \*\/$/.exec(lines[i]!.trim());
      if (banner) {
        const t = banner[1]!;
        section = /VFIO file descriptor|IOMMU/.test(t) ? 'container' : /GROUP/.test(t) ? 'group' : /DEVICE/.test(t) ? 'device' : undefined;
        expect(section, `unknown section banner: ${t}`).toBeDefined();
        continue;
      }
      const def = /^#define\s+(\w+)\s+(\\$|_IO[RW]*\()/.exec(lines[i]!);
      if (def && (def[2] !== '\\' || /^\s*_IO/.test(lines[i + 1] ?? ''))) found[def[1]!] = section!;
    }
    expect(found).toEqual(VFIO_FD);
  });

  it('iommufd ioctls apply to the iommufd and take their structs', () => {
    expect(new Set(iommufd.IOCTL_SPECS.map((s) => s.fd))).toEqual(new Set(['iommufd']));
    const byName = iommufd.ioctls;
    expect(Object.keys(byName).sort()).toEqual([...Object.keys(IOMMUFD_ARG), ...Object.keys(IOMMUFD_ARG_GAPS)].sort());
    const m = iommufd as unknown as Record<string, unknown>;
    for (const [name, record] of Object.entries(IOMMUFD_ARG)) {
      const d = byName[name]!;
      expect(d.fd).toBe('iommufd');
      expect(d.request).toBe(m[name]);
      expect(d.arg.kind, name).toBe('struct');
      const codec = (d.arg as { codec: Codec<unknown> }).codec;
      expect(codec, name).toBe(m[record]);
      expect(codec.cName).toBe(`struct ${record}`);
      // Every iommufd command struct starts with __u32 size (the argsz of iommufd).
      expect(codec.fields[0]).toMatchObject({ path: 'size', offset: 0, size: 4 });
    }
  });

  // KNOWN GAP (reported, not fixed here): see IOMMUFD_ARG_GAPS. `it.fails` turns red once fixed.
  for (const [name, record] of Object.entries(IOMMUFD_ARG_GAPS)) {
    it.fails(`KNOWN GAP: ${name} takes struct ${record}`, () => {
      expect(iommufd.ioctls[name]!.arg).toMatchObject({ kind: 'struct', codec: (iommufd as unknown as Record<string, unknown>)[record] });
    });
  }

  it.skipIf(!HAVE_CORPUS)('the iommufd table above is what the kernel-doc of iommufd.h says', () => {
    const text = readFileSync(IOMMUFD_H, 'utf8');
    const documented = Object.fromEntries([...text.matchAll(/\* struct (\w+) - ioctl\((\w+)\)/g)].map((m) => [m[2]!, m[1]!]));
    for (const [name, record] of Object.entries(IOMMUFD_ARG)) expect(documented[name], name).toBe(record);
    for (const name of Object.keys(IOMMUFD_ARG_GAPS)) expect(documented[name], name).toBeUndefined();
    expect(text).toMatch(/\* struct iommu_ioas_change_process - ioctl\(VFIO_IOAS_CHANGE_PROCESS\)/);
  });
});

// -------------------------------------------------------------------------------------------------
// Function-like macros against C: compile a program against the real header and run it natively.

const HOST_X64 = process.arch === 'x64';
const clang = installedClangs().find((c) => c.major >= MIN_CLANG);
const haveGcc = spawnSync('gcc', ['--version']).status === 0;
const canCompile = (HOST_X64 && clang !== undefined) || haveGcc;
if (!HAVE_CORPUS) console.warn(`function-like macro test skipped: no header corpus at ${CORPUS}`);
else if (!canCompile) console.warn('function-like macro test skipped: no clang-14+ (x86_64 host) or gcc (apt-get install clang-14 or gcc)');

/** The macros generated/vfio/index.ts exports as functions, with the C parameter type of the field they apply to. */
const MACROS = ['VFIO_DEVICE_STATE_VALID', 'VFIO_DEVICE_STATE_IS_ERROR', 'VFIO_DEVICE_STATE_SET_ERROR'] as const;

/** 0..64 and a few large ones (as unsigned 32-bit values). */
const INPUTS = [
  ...Array.from({ length: 65 }, (_, i) => i),
  0xff, 0x100, 0x3ff8, 0x12345677, 0x3fffffff, 0x40000000, 0x7ffffff8, 0x7fffffff,
  0x80000000, 0x80000004, 0x80000007, 0xdeadbeef, 0xfffffff8, 0xfffffffb, 0xfffffffe, 0xffffffff,
];

describe.skipIf(!HAVE_CORPUS || !canCompile)('function-like macros agree with C', () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  it('exports exactly these macros as functions', () => {
    const fns = Object.entries(vfio).filter(([k, v]) => typeof v === 'function' && /^VFIO_/.test(k)).map(([k]) => k).sort();
    expect(fns).toEqual([...MACROS].sort());
  });

  it('VFIO_DEVICE_STATE_VALID / IS_ERROR / SET_ERROR give C\'s values for int and __u32 arguments', async (ctx) => {
    // The header declares nothing from libc; printf is declared by hand, so -nostdinc works.
    const source = [
      'int printf(const char *, ...);',
      '#include <linux/types.h>',
      '#ifndef __counted_by',
      '#define __counted_by(m)', // older system <linux/types.h> (gcc fallback) lacks it
      '#endif',
      `#include "${VFIO_H}"`,
      `static const unsigned int inputs[] = { ${INPUTS.map((x) => `${x}u`).join(', ')} };`,
      'int main(void) {',
      '  for (unsigned int i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {',
      '    int s = (int)inputs[i];', // the generated functions compute over 32-bit ints
      '    __u32 u = inputs[i];', // vfio_device_migration_info.device_state is a __u32
      `    printf("%u ${MACROS.map(() => '%d').join(' ')} ${MACROS.map(() => '%u').join(' ')}\\n", inputs[i],`,
      `      ${MACROS.map((m) => `(int)(${m}(s))`).join(', ')},`,
      `      ${MACROS.map((m) => `(unsigned int)(${m}(u))`).join(', ')});`,
      '  }',
      '  return 0;',
      '}',
    ].join('\n');
    const dir = mkdtempSync(join(tmpdir(), 'vfio-uapi-macros-'));
    dirs.push(dir);
    const src = join(dir, 'macros.c');
    const exe = join(dir, 'macros');
    writeFileSync(src, source);

    let compiled = false;
    let how = '';
    if (HOST_X64 && clang) {
      try {
        const root = await ensureUapiTree();
        await execFileP(clang.path, [...clangArgs(abiByName('x86_64'), root), '-O0', src, '-o', exe]);
        compiled = true;
        how = `${clang.path} -nostdinc (Debian linux-libc-dev tree)`;
      } catch (e) {
        if (!haveGcc) throw e;
        console.warn(`clang build failed, trying gcc: ${(e as Error).message.split('\n')[0]}`);
      }
    }
    if (!compiled && haveGcc) {
      const r = spawnSync('gcc', ['-O0', '-Wall', src, '-o', exe], { encoding: 'utf8' });
      if (r.status !== 0) {
        console.warn(`function-like macro test skipped: gcc cannot compile vfio.h with the system headers:\n${r.stderr}`);
        ctx.skip();
      }
      how = 'gcc (system headers)';
    }
    const { stdout } = await execFileP(exe, []);
    const rows = stdout.trim().split('\n').map((l) => l.split(' ').map(Number));
    expect(rows.length, how).toBe(INPUTS.length);
    for (const [i, row] of rows.entries()) {
      const [input, ...values] = row as number[];
      expect(input).toBe(INPUTS[i]);
      const asInt = values.slice(0, MACROS.length);
      const asU32 = values.slice(MACROS.length);
      MACROS.forEach((m, k) => {
        const js = (vfio[m] as (s: number) => number)(input! | 0);
        expect(js, `${m}(${input}) with an int argument (${how})`).toBe(asInt[k]);
        expect(js >>> 0, `${m}(${input}u) with a __u32 argument (${how})`).toBe(asU32[k]);
        // The same given the unsigned value: the functions take any 32-bit pattern.
        expect((vfio[m] as (s: number) => number)(input!), `${m}(${input}) given unsigned`).toBe(js);
      });
    }
  });
});
