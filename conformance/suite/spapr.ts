/**
 * Guest side, sPAPR TCE IOMMU (IBM POWER, here QEMU's pseries): the v2
 * container's TCE info, memory pre-registration, dynamic DMA windows, DMA
 * mappings in both windows and real edu DMA through the TCE table, EEH; then a
 * v1 container with IOMMU_ENABLE/DISABLE.
 *
 * Errnos expected here are those of drivers/vfio/vfio_iommu_spapr_tce.c and
 * arch/powerpc/mm/book3s64/iommu_api.c: an unaligned registration is EINVAL,
 * the same region twice EBUSY, an overlapping one EINVAL, unregistering what
 * was never registered ENOENT (EBUSY while mapped); an IOVA in no window
 * ENXIO; a third window ENOSPC; removing a window that does not exist EINVAL;
 * ENABLE on a v2 container ENOTTY, twice on v1 EBUSY.
 */
import { readFileSync } from 'node:fs';
import {
  AnonymousMemory, MAP_ANONYMOUS, MAP_FAILED, MAP_HUGETLB, MAP_POPULATE, MAP_PRIVATE, OwnedFd, PROT_READ, PROT_WRITE,
  addressOf, libc, pageSize,
} from 'vfio-uapi/runtime';
import { hex, int32Bytes, type Context, type OpenDevice } from './context.js';
import { eduDma } from './dma.js';
import { checkMinsz } from './info.js';
import { attempt } from './verdicts.js';

/** The ioctls this module gives verdicts to (the type1 path's `unsupported` stage leaves them alone on sPAPR). */
export const SPAPR_IOCTLS = [
  'VFIO_IOMMU_SPAPR_TCE_GET_INFO', 'VFIO_IOMMU_SPAPR_REGISTER_MEMORY', 'VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY',
  'VFIO_IOMMU_SPAPR_TCE_CREATE', 'VFIO_IOMMU_SPAPR_TCE_REMOVE', 'VFIO_IOMMU_ENABLE', 'VFIO_IOMMU_DISABLE', 'VFIO_EEH_PE_OP',
] as const;

/**
 * Type1-only ioctls whose request number an sPAPR container gives to one of
 * its own (the same `VFIO_BASE + n`): they cannot be issued as themselves.
 */
export const TYPE1_ONLY_ON_SPAPR = ['VFIO_IOMMU_GET_INFO', 'VFIO_IOMMU_DIRTY_PAGES'] as const;

/** edu's DMA buffer in its BAR, and bytes per transfer (see dma.ts). */
const EDU_BUFFER = 0x40000n;
const XFER = 2048;
/** Window of the second (64-bit) DMA window the suite creates: 1 GiB of 64 KiB IOMMU pages. */
const DDW_PAGE_SHIFT = 16;
const DDW_SIZE = 1n << 30n;

/** Everything sPAPR on the v2 container of `ctx` (all groups attached); `edu` does the DMA. */
export function spaprChecks(ctx: Context, edu: OpenDevice | undefined): void {
  const { k, v } = ctx;
  const c = ctx.container!;
  const INFO = 'VFIO_IOMMU_SPAPR_TCE_GET_INFO';
  const REG = 'VFIO_IOMMU_SPAPR_REGISTER_MEMORY';
  const UNREG = 'VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY';
  const CREATE = 'VFIO_IOMMU_SPAPR_TCE_CREATE';
  const REMOVE = 'VFIO_IOMMU_SPAPR_TCE_REMOVE';
  const MAP = 'VFIO_IOMMU_MAP_DMA';
  const UNMAP = 'VFIO_IOMMU_UNMAP_DMA';
  const RW = k.c('VFIO_DMA_MAP_FLAG_READ') | k.c('VFIO_DMA_MAP_FLAG_WRITE');
  const P = pageSize();
  const regRec = 'vfio_iommu_spapr_register_memory';
  const reg = (vaddr: bigint, size: number) => ctx.call(c, REG, k.encode(regRec, { flags: 0, vaddr, size: BigInt(size) }));
  const unreg = (vaddr: bigint, size: number) => ctx.call(c, UNREG, k.encode(regRec, { flags: 0, vaddr, size: BigInt(size) }));
  const map = (vaddr: bigint, iova: bigint, size: number) =>
    ctx.call(c, MAP, k.encode('vfio_iommu_type1_dma_map', { flags: RW, vaddr, iova, size: BigInt(size) }));
  const unmap = (iova: bigint, size: number) => ctx.call(c, UNMAP, k.encode('vfio_iommu_type1_dma_unmap', { flags: 0, iova, size: BigInt(size) }));
  const create = (pageShift: number, windowSize: bigint): bigint => {
    const bytes = k.encode('vfio_iommu_spapr_tce_create', { flags: 0, page_shift: pageShift, window_size: windowSize, levels: 1 });
    ctx.call(c, CREATE, bytes);
    return BigInt(k.decode('vfio_iommu_spapr_tce_create', bytes).start_addr);
  };
  const remove = (start: bigint) => ctx.call(c, REMOVE, k.encode('vfio_iommu_spapr_tce_remove', { flags: 0, start_addr: start }));

  let window32 = { start: 0n, size: 0n };
  v.run(INFO, 'TCE_GET_INFO', () => {
    checkMinsz(ctx, c, INFO, 'vfio_iommu_spapr_tce_info', 'dma32_window_size', {}, INFO, 'TCE info');
    const bytes = k.encode('vfio_iommu_spapr_tce_info', {});
    ctx.call(c, INFO, bytes);
    const info = k.decode('vfio_iommu_spapr_tce_info', bytes);
    const ddw = k.c('VFIO_IOMMU_SPAPR_INFO_DDW');
    const pgsizes = BigInt(info.ddw.pgsizes);
    const sizes = [12, 16, 21, 24, 30, 34].filter((s) => (pgsizes >> BigInt(s)) & 1n).map((s) => (s < 20 ? `${1 << (s - 10)}K` : s < 30 ? `${1 << (s - 20)}M` : `${1 << (s - 30)}G`));
    window32 = { start: BigInt(info.dma32_window_start), size: BigInt(info.dma32_window_size) };
    v.expect(INFO, (info.flags & ddw) !== 0, `flags ${hex(info.flags)}: VFIO_IOMMU_SPAPR_INFO_DDW (dynamic DMA windows)`);
    v.expect(INFO, window32.size > 0n && window32.start + window32.size <= 1n << 32n && window32.size % BigInt(P) === 0n,
      `32-bit window [${hex(window32.start)}, +${hex(window32.size)}) non-empty, below 4 GiB, whole pages`);
    v.expect(INFO, (pgsizes & 0x1000n) !== 0n && (pgsizes & BigInt(P)) !== 0n && (pgsizes & (1n << BigInt(DDW_PAGE_SHIFT))) !== 0n,
      `ddw.pgsizes ${hex(pgsizes)} (${sizes.join(' ')}) include 4K and the system page (${P / 1024}K)`);
    v.expect(INFO, info.ddw.max_dynamic_windows_supported >= 1 && info.ddw.levels >= 1,
      `ddw: ${info.ddw.max_dynamic_windows_supported} dynamic window(s), up to ${info.ddw.levels} TCE levels`);
  });

  const mem = AnonymousMemory.allocate(4 * P, { populate: true });
  const va = (i: number) => mem.address + BigInt(i * P);
  const page = (i: number) => mem.bytes.subarray(i * P, (i + 1) * P);
  const IOVA1 = BigInt(ctx.platform.iovaBase);
  const IOVA2 = IOVA1 + 0x100000n;
  let ddwStart: bigint | undefined;
  try {
    v.run(REG, 'REGISTER_MEMORY', () => {
      checkMinsz(ctx, c, REG, regRec, 'size', { vaddr: va(0), size: BigInt(2 * P) }, REG, 'register');
      v.expectErrno(REG, 'unaligned vaddr', 'EINVAL', () => reg(va(0) + 1n, P));
      v.expectErrno(REG, 'size not a multiple of the page size', 'EINVAL', () => reg(va(0), P + 1));
      v.expect(REG, reg(va(0), 2 * P) === 0, `pages 0-1 (${hex(va(0))}, ${2 * P} bytes) registered`);
      v.expectErrno(REG, 'the same region again', 'EBUSY', () => reg(va(0), 2 * P));
      v.expectErrno(REG, 'a region overlapping it (pages 1-2)', 'EINVAL', () => reg(va(1), 2 * P));
    });
    v.run(UNREG, 'UNREGISTER_MEMORY errors', () => {
      v.expectErrno(UNREG, 'pages 2-3, never registered', 'ENOENT', () => unreg(va(2), 2 * P));
    });

    v.run(MAP, 'MAP_DMA in the 32-bit window', () => {
      checkMinsz(ctx, c, MAP, 'vfio_iommu_type1_dma_map', 'size', { flags: RW, vaddr: va(0), iova: IOVA1, size: BigInt(P) }, MAP, 'map');
      v.expect(MAP, map(va(0), IOVA1, P) === 0 && map(va(1), IOVA2, P) === 0, `registered pages 0 and 1 mapped at IOVA ${hex(IOVA1)} and ${hex(IOVA2)} (default window)`);
      v.expectErrno(MAP, 'page 3 (not pre-registered; v2 maps registered memory only)', 'EINVAL', () => map(va(3), IOVA2 + 0x100000n, P));
      const outside = window32.start + window32.size;
      v.expectErrno(MAP, `IOVA ${hex(outside)} (past the 32-bit window, no other window yet)`, 'ENXIO', () => map(va(0), outside, P));
    });

    if (!edu) v.note(MAP, 'no edu device: no device DMA through the TCE table');
    else {
      v.run(MAP, 'edu DMA through the TCE table', () => {
        const src = page(0);
        const dst = page(1);
        for (let i = 0; i < XFER; i++) src[i] = (i * 13 + 5) & 0xff;
        dst.fill(0);
        eduDma(ctx, edu, IOVA1, EDU_BUFFER, XFER, false);
        eduDma(ctx, edu, EDU_BUFFER, IOVA2, XFER, true);
        const same = src.subarray(0, XFER).every((b, i) => dst[i] === b) && dst.subarray(XFER).every((b) => b === 0);
        v.expect(MAP, same, `edu ${edu.entry.bdf} DMA ${XFER} bytes host (IOVA ${hex(IOVA1)}) -> edu buffer -> host (IOVA ${hex(IOVA2)}) through the TCE table: byte for byte`,
          `first difference at byte ${dst.findIndex((b, i) => b !== (i < XFER ? src[i] : 0))}`);
      });
    }

    v.run(CREATE, 'TCE_CREATE', () => {
      checkMinsz(ctx, c, CREATE, 'vfio_iommu_spapr_tce_create', 'start_addr', { page_shift: DDW_PAGE_SHIFT, window_size: DDW_SIZE, levels: 1 }, CREATE, 'create');
      ddwStart = create(DDW_PAGE_SHIFT, DDW_SIZE);
      v.expect(CREATE, ddwStart >= 1n << 32n, `second window: ${1 << (DDW_PAGE_SHIFT - 10)}K pages, ${DDW_SIZE >> 20n} MiB, 1 level, at ${hex(ddwStart)} (above 4 GiB)`);
      v.expectErrno(CREATE, 'a third window (both slots used)', 'ENOSPC', () => create(DDW_PAGE_SHIFT, DDW_SIZE));
    });
    if (ddwStart !== undefined) {
      const start = ddwStart;
      v.run(MAP, 'MAP_DMA in the second window', () => {
        const ddwPage = 1 << DDW_PAGE_SHIFT;
        if (P < ddwPage) {
          v.expectErrno(MAP, `a ${P / 1024}K page into the ${ddwPage >> 10}K-page window (the IOMMU page must lie within one host page)`, 'EINVAL', () => map(va(0), start, ddwPage));
        }
        // 64K IOMMU pages need host pages at least as large: hugetlbfs (the guest's init reserves huge pages).
        const huge = hugeMapping();
        try {
          v.expect(REG, reg(huge.address, huge.size) === 0, `a hugetlbfs region (${huge.size >> 20} MiB pages, ${hex(huge.address)}) registered`);
          v.expect(MAP, map(huge.address, start, ddwPage) === 0, `${ddwPage >> 10}K of the hugetlbfs region mapped at IOVA ${hex(start)} (second window)`);
          v.expect(UNMAP, unmap(start, ddwPage) === 0, `unmapped IOVA ${hex(start)} (second window)`);
          v.expect(UNREG, unreg(huge.address, huge.size) === 0, 'the hugetlbfs region unregistered');
        } finally {
          libc().munmap(huge.pointer, huge.size);
        }
      });
    }

    v.run(UNMAP, 'UNMAP_DMA', () => {
      checkMinsz(ctx, c, UNMAP, 'vfio_iommu_type1_dma_unmap', 'size', { iova: IOVA1, size: BigInt(P) }, UNMAP, 'unmap');
      v.expect(UNMAP, unmap(IOVA1, P) === 0 && unmap(IOVA2, P) === 0, `unmapped IOVA ${hex(IOVA1)} and ${hex(IOVA2)} (default window)`);
      v.expectErrno(UNMAP, 'an IOVA in no window', 'ENXIO', () => unmap(window32.start + window32.size, P));
    });

    v.run(REMOVE, 'TCE_REMOVE', () => {
      if (ddwStart !== undefined) {
        v.expect(REMOVE, remove(ddwStart) === 0, `second window at ${hex(ddwStart)} removed`);
        v.expectErrno(REMOVE, 'the same window again', 'EINVAL', () => remove(ddwStart!));
      }
      v.expect(REMOVE, remove(window32.start) === 0, `default window at ${hex(window32.start)} removed`);
      v.expectErrno(MAP, 'MAP_DMA with no window at all', 'ENXIO', () => map(va(0), IOVA1, P));
      const again = create(12, window32.size);
      v.expect(CREATE, again === window32.start, `the default window re-created (4K pages, ${window32.size >> 20n} MiB) at ${hex(again)}`);
      v.expect(MAP, map(va(0), IOVA1, P) === 0 && unmap(IOVA1, P) === 0, `map + unmap at ${hex(IOVA1)} in the re-created window`);
    });

    v.run(UNREG, 'UNREGISTER_MEMORY', () => {
      v.expect(UNREG, unreg(va(0), 2 * P) === 0, `pages 0-1 unregistered`);
      v.expectErrno(UNREG, 'pages 0-1 again', 'ENOENT', () => unreg(va(0), 2 * P));
    });

    v.run('VFIO_IOMMU_ENABLE', 'ENABLE on v2', () => {
      v.expectErrno('VFIO_IOMMU_ENABLE', 'ENABLE on a v2 container (v1 only)', 'ENOTTY', () => ctx.call(c, 'VFIO_IOMMU_ENABLE'));
    });

    eehChecks(ctx);
  } finally {
    mem.free();
  }
  for (const name of TYPE1_ONLY_ON_SPAPR) {
    const ioctl = k.ioctl(name);
    const same = ioctl && k.manifest.ioctls.find((i) => i.name !== name && i.number === ioctl.number && i.fd === ioctl.fd);
    if (ioctl) v.na(name, `type1 only; on an sPAPR container its request ${hex(ioctl.number)} is ${same?.name ?? 'another ioctl'}'s (exercised under that name)`);
  }
}

/** One huge page (`MAP_HUGETLB`, the default huge page size of /proc/meminfo), populated. */
function hugeMapping(): { pointer: unknown; address: bigint; size: number } {
  const kib = Number(/Hugepagesize:\s+(\d+)\s*kB/.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1] ?? 0);
  if (!kib) throw new Error('no Hugepagesize in /proc/meminfo (hugetlbfs not available)');
  const size = kib * 1024;
  const pointer = libc().mmap(null, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_POPULATE, -1, 0);
  if (pointer === null || addressOf(pointer) === MAP_FAILED) throw new Error(`mmap of one ${kib} KiB huge page failed: are huge pages reserved (/proc/sys/vm/nr_hugepages)?`);
  return { pointer, address: addressOf(pointer), size };
}

/** `VFIO_EEH_PE_OP` on the container: QEMU gives EEH only to a PHB holding a real host VFIO device. */
function eehChecks(ctx: Context): void {
  const { k, v } = ctx;
  const S = 'VFIO_EEH_PE_OP';
  v.run(S, 'EEH_PE_OP', () => {
    const ext = ctx.call(ctx.container!, 'VFIO_CHECK_EXTENSION', k.c('VFIO_EEH'));
    const r = attempt(() => ctx.call(ctx.container!, S, k.encode('vfio_eeh_pe_op', { flags: 0, op: k.c('VFIO_EEH_PE_GET_STATE') })));
    if (r.ok) {
      const states = Object.entries(k.manifest.constants).filter(([n, x]) => n.startsWith('VFIO_EEH_PE_STATE_') && x === r.value).map(([n]) => n);
      v.expect(S, states.length > 0, `GET_STATE -> ${r.value} (${states.join('/') || 'not a VFIO_EEH_PE_STATE_*'}); CHECK_EXTENSION(VFIO_EEH) = ${ext}`);
    } else if (r.code === 'ENODEV' || r.code === 'ENXIO') {
      v.na(S, `needs a PE with EEH support: QEMU's pseries offers EEH only on a PHB holding a real host VFIO device (emulated edu here); GET_STATE reached the driver and answered ${r.code}; CHECK_EXTENSION(VFIO_EEH) = ${ext}`);
    } else {
      v.fail(S, `GET_STATE -> ${r.code}, expected a state or ENODEV (no EEH on this PHB)`);
    }
  });
}

/**
 * A v1 (`VFIO_SPAPR_TCE_IOMMU`) container for the group of `device`, after the
 * v2 container is gone: ENABLE/DISABLE around a mapping.
 */
export function spaprV1Checks(ctx: Context, device: { bdf: string; iommuGroup: number }): void {
  const { k, v } = ctx;
  const EN = 'VFIO_IOMMU_ENABLE';
  const DIS = 'VFIO_IOMMU_DISABLE';
  v.run(EN, 'v1 container', () => {
    using container = OwnedFd.open('/dev/vfio/vfio');
    using group = OwnedFd.open(`/dev/vfio/${device.iommuGroup}`);
    ctx.call(group, 'VFIO_GROUP_SET_CONTAINER', int32Bytes([container.fd]));
    try {
      v.expect('VFIO_SET_IOMMU', ctx.call(container, 'VFIO_SET_IOMMU', k.c('VFIO_SPAPR_TCE_IOMMU')) === 0, `SET_IOMMU(VFIO_SPAPR_TCE_IOMMU) -> 0 (v1, group ${device.iommuGroup})`);
      const P = pageSize();
      using mem = AnonymousMemory.allocate(P, { populate: true });
      const RW = k.c('VFIO_DMA_MAP_FLAG_READ') | k.c('VFIO_DMA_MAP_FLAG_WRITE');
      const iova = BigInt(ctx.platform.iovaBase);
      const map = () => ctx.call(container, 'VFIO_IOMMU_MAP_DMA', k.encode('vfio_iommu_type1_dma_map', { flags: RW, vaddr: mem.address, iova, size: BigInt(P) }));
      const unmap = () => ctx.call(container, 'VFIO_IOMMU_UNMAP_DMA', k.encode('vfio_iommu_type1_dma_unmap', { flags: 0, iova, size: BigInt(P) }));
      v.expectErrno('VFIO_IOMMU_MAP_DMA', 'v1 MAP_DMA before ENABLE', 'EPERM', map);
      v.expect(EN, ctx.call(container, EN) === 0, 'ENABLE -> 0 on the v1 container');
      v.expectErrno(EN, 'ENABLE again', 'EBUSY', () => ctx.call(container, EN));
      v.expect('VFIO_IOMMU_MAP_DMA', map() === 0 && unmap() === 0, `v1 (no pre-registration): map + unmap ${P} bytes at ${hex(iova)} while enabled`);
      v.expect(DIS, ctx.call(container, DIS) === 0, 'DISABLE -> 0 on the enabled v1 container');
      v.expectErrno('VFIO_IOMMU_MAP_DMA', 'v1 MAP_DMA after DISABLE', 'EPERM', map);
    } finally {
      ctx.call(group, 'VFIO_GROUP_UNSET_CONTAINER');
    }
  });
}
