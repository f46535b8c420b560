/**
 * Guest side: DMA mappings and real device DMA through QEMU's edu device:
 * MAP_DMA and its refusals, a host -> device -> host round trip checked byte
 * for byte, dirty-page tracking, a DMA to an unmapped IOVA that must not land,
 * UNMAP_DMA and unmapping everything.
 *
 * edu's DMA engine: BAR0 + 0x80 source, 0x88 destination, 0x90 count,
 * 0x98 command (bit 0 start, bit 1 direction: set = edu buffer to RAM, bit 2
 * raise an interrupt when done); its buffer is at 0x40000 (4 KiB); addresses
 * are masked to 28 bits, so every IOVA here is below 256 MiB.
 */
import { AnonymousMemory } from 'vfio-uapi/runtime';
import { hex, readRegion, waitFor, writeRegion, type Context, type OpenDevice } from './context.js';
import { dmaAvail } from './container.js';
import { checkMinsz } from './info.js';

const PAGE = 4096;
const EDU_BUFFER = 0x40000;
/**
 * Bytes per edu transfer. Not the whole 4 KiB buffer: some QEMU versions'
 * range check rejects a transfer that ends exactly at the end of the buffer,
 * and rejects it with hw_error(), which aborts QEMU.
 */
const XFER = 2048;

/** Runs one edu DMA of `count` bytes and waits until the engine is idle again. */
export function eduDma(ctx: Context, dev: OpenDevice, src: bigint, dst: bigint, count: number, toRam: boolean): void {
  const bar0 = dev.regions[ctx.k.c('VFIO_PCI_BAR0_REGION_INDEX')]!.offset;
  const e = (x: number) => ctx.edu32(x);
  writeRegion(dev.fd, bar0 + 0x80n, e(Number(src)));
  writeRegion(dev.fd, bar0 + 0x88n, e(Number(dst)));
  writeRegion(dev.fd, bar0 + 0x90n, e(count));
  writeRegion(dev.fd, bar0 + 0x98n, e(0x1 | (toRam ? 0x2 : 0)));
  if (!waitFor(() => (e(readRegion(dev.fd, bar0 + 0x98n)) & 1) === 0, 10_000)) throw new Error('edu DMA did not complete within 10 s');
}

/** Everything DMA; `edu` does the transfers. */
export function dmaChecks(ctx: Context, edu: OpenDevice | undefined, avail0: number | undefined): void {
  const { k, v } = ctx;
  // IOVAs from the platform's base: inside the IOMMU's aperture (s390x: above 4 GiB), below edu's 28-bit mask elsewhere.
  const base = BigInt(ctx.platform.iovaBase);
  const IOVA_SRC = base;
  const IOVA_DST = base + 0x100000n;
  const IOVA_PAIR = base + 0x200000n;
  const IOVA_NEVER = base + 0x700000n;
  const c = ctx.container!;
  const MAP = 'VFIO_IOMMU_MAP_DMA';
  const UNMAP = 'VFIO_IOMMU_UNMAP_DMA';
  const DIRTY = 'VFIO_IOMMU_DIRTY_PAGES';
  const RW = k.c('VFIO_DMA_MAP_FLAG_READ') | k.c('VFIO_DMA_MAP_FLAG_WRITE');
  const mem = AnonymousMemory.allocate(4 * PAGE);
  const page = (i: number) => mem.bytes.subarray(i * PAGE, (i + 1) * PAGE);
  const vaddr = (i: number) => mem.address + BigInt(i * PAGE);
  const map = (i: number, iova: bigint, size = PAGE, flags = RW) =>
    ctx.call(c, MAP, k.encode('vfio_iommu_type1_dma_map', { flags, vaddr: vaddr(i), iova, size: BigInt(size) }));
  const unmap = (iova: bigint, size: bigint, flags = 0): bigint => {
    const bytes = k.encode('vfio_iommu_type1_dma_unmap', { flags, iova, size });
    ctx.call(c, UNMAP, bytes);
    return BigInt(k.decode('vfio_iommu_type1_dma_unmap', bytes).size);
  };

  try {
    v.run(MAP, 'MAP_DMA', () => {
      checkMinsz(ctx, c, MAP, 'vfio_iommu_type1_dma_map', 'size', { flags: RW, vaddr: vaddr(0), iova: IOVA_SRC, size: BigInt(PAGE) }, MAP, 'map');
      map(0, IOVA_SRC);
      map(1, IOVA_DST);
      v.pass(MAP, `page 0 at IOVA ${hex(IOVA_SRC)}, page 1 at IOVA ${hex(IOVA_DST)} (READ|WRITE)`);
      v.expectErrno(MAP, 'the same IOVA again (overlap)', 'EEXIST', () => map(2, IOVA_SRC));
      v.expectErrno(MAP, 'two pages over the end of a mapping (partial overlap)', 'EEXIST', () => map(2, IOVA_SRC - BigInt(PAGE), 2 * PAGE));
      v.expectErrno(MAP, 'unaligned IOVA', 'EINVAL', () => map(2, IOVA_SRC + 0x10000n + 1n));
      v.expectErrno(MAP, 'size 0', 'EINVAL', () => map(2, IOVA_SRC + 0x10000n, 0));
      if (avail0 !== undefined) {
        const now = dmaAvail(ctx);
        v.expect(MAP, now === avail0 - 2, `DMA_AVAIL ${avail0} -> ${now} after 2 mappings`);
      }
    });

    const dirtyOk = k.ioctl(DIRTY) ? dirtyStart(ctx) : false;

    if (!edu) {
      v.note(MAP, 'no edu device: no device DMA');
    } else {
      v.run(MAP, 'edu DMA round trip', () => {
        const src = page(0);
        const dst = page(1);
        for (let i = 0; i < PAGE; i++) src[i] = (i * 7 + 3) & 0xff;
        dst.fill(0);
        eduDma(ctx, edu, IOVA_SRC, BigInt(EDU_BUFFER), XFER, false);
        eduDma(ctx, edu, BigInt(EDU_BUFFER), IOVA_DST, XFER, true);
        const same = src.subarray(0, XFER).every((b, i) => dst[i] === b) && dst.subarray(XFER).every((b) => b === 0);
        const diff = same ? -1 : dst.findIndex((b, i) => b !== (i < XFER ? src[i] : 0));
        v.expect(MAP, same, `edu DMA ${XFER} bytes host (IOVA ${hex(IOVA_SRC)}) -> edu buffer -> host (IOVA ${hex(IOVA_DST)}): byte for byte, nothing past them`,
          `first difference at byte ${diff}: ${dst[diff]} != ${diff < XFER ? src[diff] : 0}`);
      });
    }

    if (dirtyOk) dirtyBitmap(ctx, IOVA_DST);

    v.run(UNMAP, 'UNMAP_DMA', () => {
      checkMinsz(ctx, c, UNMAP, 'vfio_iommu_type1_dma_unmap', 'size', { iova: IOVA_DST, size: BigInt(PAGE) }, UNMAP, 'unmap');
      v.expectErrno(UNMAP, 'unaligned IOVA', 'EINVAL', () => unmap(IOVA_DST + 1n, BigInt(PAGE)));
      const n = unmap(IOVA_DST, BigInt(PAGE));
      v.expect(UNMAP, n === BigInt(PAGE), `unmap IOVA ${hex(IOVA_DST)}: the kernel reports ${n} bytes unmapped`);
      const none = unmap(IOVA_NEVER, BigInt(PAGE));
      v.expect(UNMAP, none === 0n, `unmap of a range never mapped: 0 bytes unmapped`, `reported ${none}`);
      map(2, IOVA_PAIR, 2 * PAGE);
      v.expectErrno(UNMAP, 'unmap of the second half of a 2-page mapping (type1v2 refuses to bisect)', 'EINVAL', () => unmap(IOVA_PAIR + BigInt(PAGE), BigInt(PAGE)));
    });

    if (edu) {
      v.run(MAP, 'DMA to an unmapped IOVA', () => {
        const dst = page(1);
        dst.fill(0xaa);
        const src = Uint8Array.from(page(0));
        eduDma(ctx, edu, BigInt(EDU_BUFFER), IOVA_DST, XFER, true);
        eduDma(ctx, edu, BigInt(EDU_BUFFER), IOVA_NEVER, XFER, true);
        const landed = dst.some((b) => b !== 0xaa) || page(0).some((b, i) => b !== src[i]) || page(2).some((b) => b !== 0) || page(3).some((b) => b !== 0);
        v.expect(MAP, !landed, `edu DMA to IOVA ${hex(IOVA_DST)} (unmapped) and ${hex(IOVA_NEVER)} (never mapped): no host page changed`);
      });
    }

    v.run(UNMAP, 'unmap everything', () => {
      const expected = BigInt(PAGE + 2 * PAGE);
      if (k.has('VFIO_DMA_UNMAP_FLAG_ALL')) {
        const ALL = k.c('VFIO_DMA_UNMAP_FLAG_ALL');
        v.expectErrno(UNMAP, 'FLAG_ALL with a size', 'EINVAL', () => unmap(0n, BigInt(PAGE), ALL));
        const n = unmap(0n, 0n, ALL);
        v.expect(UNMAP, n === expected, `VFIO_DMA_UNMAP_FLAG_ALL: ${n} bytes unmapped (every mapping)`, `expected ${expected}`);
      } else {
        const n = unmap(0n, 1n << 40n);
        v.expect(UNMAP, n === expected, `no VFIO_DMA_UNMAP_FLAG_ALL in this header: unmap [0, 1 TiB) -> ${n} bytes (every mapping)`, `expected ${expected}`);
      }
      if (avail0 !== undefined) {
        const now = dmaAvail(ctx);
        v.expect(UNMAP, now === avail0, `DMA_AVAIL back to ${avail0}`, `it is ${now}`);
      }
    });
  } finally {
    mem.free();
  }
}

/** Starts dirty tracking (and checks the refusals around it); returns whether it is on. */
function dirtyStart(ctx: Context): boolean {
  const { k, v } = ctx;
  const S = 'VFIO_IOMMU_DIRTY_PAGES';
  const START = k.c('VFIO_IOMMU_DIRTY_PAGES_FLAG_START');
  const STOP = k.c('VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP');
  let on = false;
  v.run(S, 'START', () => {
    checkMinsz(ctx, ctx.container!, S, 'vfio_iommu_type1_dirty_bitmap', 'flags', { flags: START }, S, 'dirty');
    v.expectErrno(S, 'START|STOP together', 'EINVAL', () => ctx.call(ctx.container!, S, k.encode('vfio_iommu_type1_dirty_bitmap', { flags: START | STOP })));
    ctx.call(ctx.container!, S, k.encode('vfio_iommu_type1_dirty_bitmap', { flags: START }));
    on = true;
    v.pass(S, 'FLAG_START -> 0');
  });
  return on;
}

/** GET_BITMAP of the page at `iova` (mapped), then STOP; a bitmap read after STOP must be refused. */
function dirtyBitmap(ctx: Context, iova: bigint): void {
  const { k, v } = ctx;
  const S = 'VFIO_IOMMU_DIRTY_PAGES';
  const rec = 'vfio_iommu_type1_dirty_bitmap';
  const bitmapMem = AnonymousMemory.allocate(PAGE);
  try {
    const get = (pgsize: number) => {
      const range = k.encode('vfio_iommu_type1_dirty_bitmap_get', {
        iova, size: BigInt(PAGE), bitmap: { pgsize: BigInt(pgsize), size: 8n, data: bitmapMem.address },
      });
      ctx.call(ctx.container!, S, k.encode(rec, { flags: k.c('VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP') }, range));
    };
    v.run(S, 'GET_BITMAP', () => {
      v.expectErrno(S, 'GET_BITMAP with pgsize 8 KiB (not the IOMMU page size)', 'EINVAL', () => get(2 * PAGE));
      bitmapMem.bytes.fill(0);
      get(PAGE);
      const word = new BigUint64Array(bitmapMem.buffer, 0, 1)[0]!;
      // Without device dirty tracking, type1 reports every page of an IOMMU-backed mapping dirty.
      v.expect(S, word === 1n, `GET_BITMAP over the 1-page mapping the edu wrote (IOVA ${hex(iova)}): exactly bit 0 set (bitmap ${hex(word)})`);
    });
    v.run(S, 'STOP', () => {
      ctx.call(ctx.container!, S, k.encode(rec, { flags: k.c('VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP') }));
      v.pass(S, 'FLAG_STOP -> 0');
      v.expectErrno(S, 'GET_BITMAP after STOP', 'EINVAL', () => get(PAGE));
    });
  } finally {
    bitmapMem.free();
  }
}
