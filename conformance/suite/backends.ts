/**
 * Guest side: one set of DMA checks through QEMU's edu, run in each of the
 * five IOMMU backends the kernel selftests (tools/testing/selftests/vfio) name:
 *
 * | mode | container | how the device is opened |
 * |---|---|---|
 * | `vfio_type1_iommu` | `/dev/vfio/vfio`, `VFIO_TYPE1_IOMMU` | group |
 * | `vfio_type1v2_iommu` | `/dev/vfio/vfio`, `VFIO_TYPE1v2_IOMMU` | group |
 * | `iommufd_compat_type1` | `/dev/iommu` as the container, `VFIO_TYPE1_IOMMU` | group |
 * | `iommufd_compat_type1v2` | `/dev/iommu` as the container, `VFIO_TYPE1v2_IOMMU` | group |
 * | `iommufd` | `/dev/iommu`, an IOAS | cdev, `VFIO_DEVICE_BIND_IOMMUFD` + `ATTACH_IOMMUFD_PT` |
 *
 * Every check records what each backend did (the matrix of the report). A
 * check fails only where the behaviour breaks DMA isolation (a round trip
 * that does not arrive, DMA landing where nothing is mapped, an overlapping
 * map accepted) or contradicts what the kernel source documents for that
 * backend (the `documented` column); other differences are reported as found.
 */
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { AnonymousMemory, OwnedFd } from 'vfio-uapi/runtime';
import { cString } from './container.js';
import { hex, readRegion, writeRegion, type Context, type DeviceEntry, type OpenDevice } from './context.js';
import { eduDma } from './dma.js';
import { IommufdSession, PAGE } from './iommufd.js';
import type { BackendMatrix } from './types.js';
import { attempt, type Attempt } from './verdicts.js';

/** The five backends, in the selftests' order. */
export const BACKENDS = ['vfio_type1_iommu', 'vfio_type1v2_iommu', 'iommufd_compat_type1', 'iommufd_compat_type1v2', 'iommufd'] as const;
export type BackendName = (typeof BACKENDS)[number];

const EDU_BUFFER = 0x40000n;
const XFER = 2048;
const IOVA_SRC = 0x100000n;
const IOVA_DST = 0x200000n;
const IOVA_PAIR = 0x300000n;
const IOVA_NEVER = 0x800000n;

/** A DMA context: the edu opened one way, and map/unmap the matching way. */
export interface DmaPath extends Disposable {
  backend: BackendName;
  dev: OpenDevice;
  map(vaddr: bigint, iova: bigint, size: number): void;
  /** Bytes the kernel reports unmapped. */
  unmap(iova: bigint, size: number): bigint;
  unmapAll(): bigint;
  /** Dirty tracking as this backend offers it: a description of the bitmap after the edu wrote `iova`, or the errno. */
  dirty(iova: bigint): Attempt<string>;
  /** The subject (ioctl) a failed check of this backend is recorded against. */
  mapSubject: string;
  unmapSubject: string;
}

/** The `/dev/vfio/devices/vfioN` of a device, from sysfs (`<device>/vfio-dev/vfioN`). */
export function cdevPath(sysfsDevice: string): string | undefined {
  const dir = path.join(sysfsDevice, 'vfio-dev');
  if (!existsSync(dir)) return undefined;
  const name = readdirSync(dir).find((n) => /^vfio\d+$/.test(n));
  return name ? `/dev/vfio/devices/${name}` : undefined;
}

/** Region offsets of a device fd (`VFIO_DEVICE_GET_REGION_INFO` of each index, those the driver answers). */
export function regionOffsets(ctx: Context, fd: OwnedFd, count: number): OpenDevice['regions'] {
  const { k } = ctx;
  const out: OpenDevice['regions'] = [];
  for (let index = 0; index < count; index++) {
    const bytes = k.encode('vfio_region_info', { index });
    if (!attempt(() => ctx.call(fd, 'VFIO_DEVICE_GET_REGION_INFO', bytes)).ok) continue;
    const r = k.decode('vfio_region_info', bytes);
    out[index] = { index, flags: r.flags as number, size: BigInt(r.size), offset: BigInt(r.offset), capabilities: [] };
  }
  return out;
}

/** An {@link OpenDevice} for an edu opened outside the group stage, with memory decoding and bus mastering on. */
export function eduDevice(ctx: Context, entry: DeviceEntry, fd: OwnedFd): OpenDevice {
  const { k } = ctx;
  const regions = regionOffsets(ctx, fd, k.c('VFIO_PCI_NUM_REGIONS'));
  const cfg = regions[k.c('VFIO_PCI_CONFIG_REGION_INDEX')]!.offset;
  writeRegion(fd, cfg + 4n, readRegion(fd, cfg + 4n, 2) | 0x6, 2);
  return { entry, model: 'edu', fd, flags: 0, numRegions: regions.length, numIrqs: 0, regions, irqCounts: [] };
}

/** Opens the edu through its group, with `container` (a `/dev/vfio/vfio` or `/dev/iommu` fd) set to `type`. */
function groupPath(ctx: Context, backend: BackendName, entry: DeviceEntry, containerPath: string, type: string): DmaPath {
  const { k } = ctx;
  const container = OwnedFd.open(containerPath);
  const group = OwnedFd.open(`/dev/vfio/${entry.iommuGroup}`);
  let device: OwnedFd | undefined;
  try {
    ctx.call(group, 'VFIO_GROUP_SET_CONTAINER', new Uint8Array(new Int32Array([container.fd]).buffer));
    ctx.call(container, 'VFIO_SET_IOMMU', k.c(type));
    device = new OwnedFd(ctx.call(group, 'VFIO_GROUP_GET_DEVICE_FD', cString(entry.bdf)), `device ${entry.bdf}`);
    const dev = eduDevice(ctx, entry, device);
    const RW = k.c('VFIO_DMA_MAP_FLAG_READ') | k.c('VFIO_DMA_MAP_FLAG_WRITE');
    const unmap = (iova: bigint, size: bigint, flags = 0) => {
      const bytes = k.encode('vfio_iommu_type1_dma_unmap', { flags, iova, size });
      ctx.call(container, 'VFIO_IOMMU_UNMAP_DMA', bytes);
      return BigInt(k.decode('vfio_iommu_type1_dma_unmap', bytes).size);
    };
    const D = 'VFIO_IOMMU_DIRTY_PAGES';
    return {
      backend,
      dev,
      mapSubject: 'VFIO_IOMMU_MAP_DMA',
      unmapSubject: 'VFIO_IOMMU_UNMAP_DMA',
      map: (vaddr, iova, size) => { ctx.call(container, 'VFIO_IOMMU_MAP_DMA', k.encode('vfio_iommu_type1_dma_map', { flags: RW, vaddr, iova, size: BigInt(size) })); },
      unmap: (iova, size) => unmap(iova, BigInt(size)),
      unmapAll: () => unmap(0n, 0n, k.c('VFIO_DMA_UNMAP_FLAG_ALL')),
      dirty: (iova) => attempt(() => {
        ctx.call(container, D, k.encode('vfio_iommu_type1_dirty_bitmap', { flags: k.c('VFIO_IOMMU_DIRTY_PAGES_FLAG_START') }));
        const bitmap = AnonymousMemory.allocate(PAGE);
        try {
          const range = k.encode('vfio_iommu_type1_dirty_bitmap_get', { iova, size: BigInt(PAGE), bitmap: { pgsize: BigInt(PAGE), size: 8n, data: bitmap.address } });
          ctx.call(container, D, k.encode('vfio_iommu_type1_dirty_bitmap', { flags: k.c('VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP') }, range));
          const word = new DataView(bitmap.buffer).getBigUint64(0, true);
          ctx.call(container, D, k.encode('vfio_iommu_type1_dirty_bitmap', { flags: k.c('VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP') }));
          return `VFIO_IOMMU_DIRTY_PAGES: bitmap ${hex(word)}`;
        } finally {
          bitmap.free();
        }
      }),
      [Symbol.dispose]: () => {
        device?.close();
        attempt(() => ctx.call(group, 'VFIO_GROUP_UNSET_CONTAINER'));
        group.close();
        container.close();
      },
    };
  } catch (e) {
    device?.close();
    group.close();
    container.close();
    throw e;
  }
}

/** Opens the edu's cdev, binds it to a new iommufd and attaches it to a new IOAS. */
export function cdevPathOf(ctx: Context, entry: DeviceEntry): DmaPath & { session: IommufdSession; ioas: number; devId: number } {
  const { k } = ctx;
  const cdev = cdevPath(`/sys/bus/pci/devices/${entry.bdf}`);
  if (!cdev) throw new Error(`${entry.bdf} has no vfio-dev/vfioN in sysfs (no CONFIG_VFIO_DEVICE_CDEV?)`);
  const session = IommufdSession.open(ctx);
  const device = OwnedFd.open(cdev);
  try {
    const bind = k.encode('vfio_device_bind_iommufd', { flags: 0, iommufd: session.fd.fd });
    ctx.call(device, 'VFIO_DEVICE_BIND_IOMMUFD', bind);
    const devId = k.decode('vfio_device_bind_iommufd', bind).out_devid as number;
    const ioas = session.ioasAlloc();
    ctx.call(device, 'VFIO_DEVICE_ATTACH_IOMMUFD_PT', k.encode('vfio_device_attach_iommufd_pt', { flags: 0, pt_id: ioas }));
    const dev = eduDevice(ctx, entry, device);
    return {
      backend: 'iommufd',
      dev,
      session,
      ioas,
      devId,
      mapSubject: 'IOMMU_IOAS_MAP',
      unmapSubject: 'IOMMU_IOAS_UNMAP',
      map: (vaddr, iova, size) => { session.map(ioas, vaddr, size, iova); },
      unmap: (iova, size) => session.unmap(ioas, iova, BigInt(size)),
      unmapAll: () => session.unmap(ioas, 0n, 0xffff_ffff_ffff_ffffn),
      dirty: () => attempt(() => {
        const hwpt = session.cmd('IOMMU_HWPT_ALLOC', { flags: k.c('IOMMU_HWPT_ALLOC_DIRTY_TRACKING'), dev_id: devId, pt_id: ioas }).out_hwpt_id as number;
        session.destroy(hwpt);
        return `HWPT_ALLOC with DIRTY_TRACKING -> HWPT ${hwpt}`;
      }),
      [Symbol.dispose]: () => {
        device.close();
        session.fd.close();
      },
    };
  } catch (e) {
    device.close();
    session.fd.close();
    throw e;
  }
}

/** What a backend did in one check: the text of the matrix cell and whether it is acceptable. */
interface Cell {
  text: string;
  ok: boolean;
}

/** The checks, each with what the kernel source documents per backend where it does. */
const CHECKS = [
  { id: 'map', what: 'map 2 pages (READ|WRITE) at fixed IOVAs' },
  { id: 'dma', what: `edu DMA ${XFER} bytes RAM -> edu -> RAM through the mappings, byte for byte` },
  { id: 'overlap', what: 'map again at a mapped IOVA' },
  { id: 'bisect', what: 'unmap the 2nd page, then the 1st page, of one 2-page mapping', documented: 'vfio_iommu_type1.c (vfio_dma_do_unmap): v1 returns success with a zero-sized unmap for a request offset into a mapping, and unmaps the whole mapping for one covering its first IOVA; v2 refuses to bisect (EINVAL). iommufd/vfio_compat.c (iommufd_vfio_set_iommu): type1 is emulated by disabling large IOPTEs, "then we can safely unmap within any range"; v2 through iommufd refuses in iopt_unmap_iova_range (ENOENT), where vfio.h names no errno' },
  { id: 'unmap-none', what: 'unmap a range that was never mapped', documented: 'vfio_iommu_type1.c: "The v2 interface will only return success and a size of zero if there were no mappings within the range"; iommufd\'s IOMMU_IOAS_UNMAP turns "nothing unmapped" into ENOENT (ioas.c, iommufd_ioas_unmap), which iommufd.h does not say; the compat layer (vfio_compat.c) returns 0 bytes like type1' },
  { id: 'unmapped-dma', what: 'edu DMA to an IOVA unmapped just before, and to one never mapped: no host page changes' },
  { id: 'unmap-all', what: 'unmap everything (VFIO_DMA_UNMAP_FLAG_ALL; for iommufd IOAS_UNMAP of [0, U64_MAX])' },
  { id: 'dirty', what: 'dirty tracking after the edu wrote a mapped page', documented: 'vfio_iommu_type1.c: VFIO_IOMMU_DIRTY_PAGES needs a v2 container (EACCES for v1, in the code, not in vfio.h); iommufd/vfio_compat.c: VFIO_IOMMU_DIRTY_PAGES is not implemented (ENOTTY), obsoleted by IOMMU_HWPT_SET_DIRTY_TRACKING; iommufd dirty tracking (HWPT_ALLOC with DIRTY_TRACKING) needs an IOMMU with dirty bits (VT-d SSADS), which QEMU\'s intel-iommu does not emulate (EOPNOTSUPP); the mock IOMMU exercises it instead' },
] as const;

/** The outcomes the kernel source documents, by check and backend (only where it says). */
const DOCUMENTED: Partial<Record<string, Partial<Record<BackendName, string>>>> = {
  bisect: { vfio_type1_iommu: '0 bytes, then 8192 bytes', vfio_type1v2_iommu: 'EINVAL, then EINVAL', iommufd_compat_type1: '4096 bytes, then 4096 bytes' },
  'unmap-none': { vfio_type1_iommu: '0 bytes', vfio_type1v2_iommu: '0 bytes' },
  dirty: { vfio_type1_iommu: 'EACCES', iommufd_compat_type1: 'ENOTTY', iommufd_compat_type1v2: 'ENOTTY' },
};

const show = (r: Attempt<unknown>, unit = ''): string => (r.ok ? (typeof r.value === 'bigint' ? `${r.value} bytes` : `${r.value ?? 'ok'}${unit}`) : r.code);

/** Runs the checks in one backend; returns its column. */
function runChecks(ctx: Context, p: DmaPath): Record<string, Cell> {
  const cells: Record<string, Cell> = {};
  const mem = AnonymousMemory.allocate(4 * PAGE);
  const page = (i: number) => mem.bytes.subarray(i * PAGE, (i + 1) * PAGE);
  const vaddr = (i: number) => mem.address + BigInt(i * PAGE);
  try {
    const mapped = attempt(() => { p.map(vaddr(0), IOVA_SRC, PAGE); p.map(vaddr(1), IOVA_DST, PAGE); return 'ok'; });
    cells.map = { text: show(mapped), ok: mapped.ok };
    if (!mapped.ok) return cells;

    const src = page(0);
    const dst = page(1);
    for (let i = 0; i < PAGE; i++) src[i] = (i * 13 + 5) & 0xff;
    dst.fill(0);
    eduDma(ctx, p.dev, IOVA_SRC, EDU_BUFFER, XFER, false);
    eduDma(ctx, p.dev, EDU_BUFFER, IOVA_DST, XFER, true);
    const same = src.subarray(0, XFER).every((b, i) => dst[i] === b) && dst.subarray(XFER).every((b) => b === 0);
    cells.dma = { text: same ? `${XFER} bytes, identical` : 'MISMATCH', ok: same };

    const overlap = attempt(() => p.map(vaddr(2), IOVA_SRC, PAGE));
    cells.overlap = { text: show(overlap), ok: !overlap.ok };

    const pair = attempt(() => p.map(vaddr(2), IOVA_PAIR, 2 * PAGE));
    if (pair.ok) {
      const second = attempt(() => p.unmap(IOVA_PAIR + BigInt(PAGE), PAGE));
      const first = attempt(() => p.unmap(IOVA_PAIR, PAGE));
      attempt(() => p.unmap(IOVA_PAIR, 2 * PAGE));
      attempt(() => p.unmap(IOVA_PAIR + BigInt(PAGE), PAGE));
      cells.bisect = { text: `${show(second)}, then ${show(first)}`, ok: true };
    } else cells.bisect = { text: `2-page map: ${show(pair)}`, ok: false };

    const none = attempt(() => p.unmap(IOVA_NEVER, PAGE));
    cells['unmap-none'] = { text: show(none), ok: true };

    const d = attempt(() => p.unmap(IOVA_DST, PAGE));
    dst.fill(0xaa);
    const before = Uint8Array.from(src);
    eduDma(ctx, p.dev, EDU_BUFFER, IOVA_DST, XFER, true);
    eduDma(ctx, p.dev, EDU_BUFFER, IOVA_NEVER, XFER, true);
    const landed = dst.some((b) => b !== 0xaa) || src.some((b, i) => b !== before[i]) || page(3).some((b) => b !== 0);
    cells['unmapped-dma'] = { text: `${d.ok ? '' : `unmap ${show(d)}; `}${landed ? 'LANDED' : 'nothing landed'}`, ok: d.ok && !landed };

    p.map(vaddr(1), IOVA_DST, PAGE);
    eduDma(ctx, p.dev, EDU_BUFFER, IOVA_DST, XFER, true);
    cells.dirty = { text: show(p.dirty(IOVA_DST)), ok: true };

    const all = attempt(() => p.unmapAll());
    cells['unmap-all'] = { text: show(all), ok: all.ok && all.value === BigInt(2 * PAGE) };
  } finally {
    mem.free();
  }
  return cells;
}

/**
 * Runs the checks in every backend on `edu` (a device entry whose group and
 * cdev are free) and returns the matrix; failures go to the backend's map or
 * unmap ioctl.
 */
export function backendChecks(ctx: Context, edu: DeviceEntry): BackendMatrix {
  const { v } = ctx;
  const columns: Partial<Record<BackendName, Record<string, Cell>>> = {};
  const open: Record<BackendName, () => DmaPath> = {
    vfio_type1_iommu: () => groupPath(ctx, 'vfio_type1_iommu', edu, '/dev/vfio/vfio', 'VFIO_TYPE1_IOMMU'),
    vfio_type1v2_iommu: () => groupPath(ctx, 'vfio_type1v2_iommu', edu, '/dev/vfio/vfio', 'VFIO_TYPE1v2_IOMMU'),
    iommufd_compat_type1: () => groupPath(ctx, 'iommufd_compat_type1', edu, '/dev/iommu', 'VFIO_TYPE1_IOMMU'),
    iommufd_compat_type1v2: () => groupPath(ctx, 'iommufd_compat_type1v2', edu, '/dev/iommu', 'VFIO_TYPE1v2_IOMMU'),
    iommufd: () => cdevPathOf(ctx, edu),
  };
  for (const backend of BACKENDS) {
    ctx.log(`   backend ${backend}`);
    const subject = backend === 'iommufd' ? 'IOMMU_IOAS_MAP' : 'VFIO_IOMMU_MAP_DMA';
    v.run(subject, `backend ${backend}`, () => {
      using p = open[backend]();
      const cells = runChecks(ctx, p);
      columns[backend] = cells;
      for (const c of CHECKS) {
        const cell = cells[c.id];
        if (!cell) continue;
        const doc = DOCUMENTED[c.id]?.[backend];
        const subjectOf = c.id === 'bisect' || c.id === 'unmap-none' || c.id === 'unmap-all' ? p.unmapSubject : p.mapSubject;
        if (doc !== undefined && doc !== cell.text) {
          cell.ok = false;
          v.fail(subjectOf, `backend ${backend}, ${c.what}: ${cell.text}, the kernel source documents ${doc}`);
        } else if (!cell.ok) v.fail(subjectOf, `backend ${backend}, ${c.what}: ${cell.text}`);
      }
      v.pass(p.mapSubject, `backend ${backend}: ${CHECKS.filter((c) => cells[c.id]).map((c) => `${c.id} ${cells[c.id]!.text}`).join('; ')}`);
    });
  }
  return {
    device: edu.bdf,
    backends: [...BACKENDS],
    checks: CHECKS.map((c) => {
      const row = Object.fromEntries(BACKENDS.map((b) => [b, columns[b]?.[c.id] ?? { text: 'not run', ok: false }]));
      const texts = new Set(BACKENDS.map((b) => row[b]!.text));
      return { id: c.id, what: c.what, documented: 'documented' in c ? c.documented : undefined, differs: texts.size > 1, cells: row };
    }),
  };
}
