/**
 * Guest side: device info, region info for every index (with capability
 * chains), IRQ info for every index, and access to the regions: config space,
 * BAR0 by read/write and by mmap.
 */
import { readFileSync, statSync } from 'node:fs';
import {
  MAP_SHARED, PROT_READ, PROT_WRITE, addressOf, libc, nativeView, type OwnedFd,
} from 'vfio-uapi/runtime';
import { hex, readRegion, writeRegion, type Context, type DeviceEntry, type OpenDevice, type RegionInfo } from './context.js';
import { checkMinsz, infoWithCaps } from './info.js';
import { zpciChecks } from './zpci.js';

/** QEMU's edu: identification register value at BAR0 + 0 (major 1, minor 0, 0xed). */
export const EDU_ID = 0x010000ed;

function modelOf(e: DeviceEntry): OpenDevice['model'] {
  if (e.vendor === '0x1234' && e.device === '0x11e8') return 'edu';
  if (e.vendor === '0x8086' && e.device === '0x10d3') return 'e1000e';
  if (e.vendor === '0x1af4' && e.device === '0x1044') return 'virtio-rng';
  return 'other';
}

/** GET_INFO, every region's and every IRQ's info, for each device fd; fills `ctx.devices`. */
export function deviceInfoChecks(ctx: Context, fds: Map<string, OwnedFd>, iovaRanges: readonly { start: bigint; end: bigint }[] = []): void {
  const { k, v } = ctx;
  const S = 'VFIO_DEVICE_GET_INFO';
  for (const e of ctx.entries) {
    const fd = fds.get(e.bdf);
    if (!fd) continue;
    v.run(S, e.bdf, () => {
      checkMinsz(ctx, fd, S, 'vfio_device_info', 'num_irqs', {}, S, e.bdf);
      const reply = infoWithCaps(ctx, fd, S, 'vfio_device_info', {}, S, e.bdf);
      const info = reply.value;
      const flags = info.flags as number;
      const dev: OpenDevice = {
        entry: e, model: modelOf(e), fd, flags, numRegions: info.num_regions, numIrqs: info.num_irqs, regions: [], irqCounts: [],
      };
      ctx.devices.set(e.bdf, dev);
      const names = flagNames(ctx, 'VFIO_DEVICE_FLAGS_', flags);
      v.expect(S, (flags & k.c('VFIO_DEVICE_FLAGS_PCI')) !== 0 && info.num_regions >= k.c('VFIO_PCI_NUM_REGIONS') && info.num_irqs === k.c('VFIO_PCI_NUM_IRQS'),
        `${e.bdf}: flags ${names}, ${info.num_regions} regions (>= VFIO_PCI_NUM_REGIONS), ${info.num_irqs} IRQ indexes (= VFIO_PCI_NUM_IRQS)`);
      const zpci = zpciChecks(ctx, dev, reply.caps, iovaRanges);
      if (zpci.length > 0) v.pass(S, `${e.bdf}: zPCI capabilities ${zpci.join(', ')} (decoded with the generated vfio_zdev bindings)`);
    });
  }
  for (const dev of ctx.devices.values()) regionChecks(ctx, dev);
  for (const dev of ctx.devices.values()) irqInfoChecks(ctx, dev);
}

/** The names of the flags with `prefix` set in `value`. */
export function flagNames(ctx: Context, prefix: string, value: number): string {
  const names = Object.entries(ctx.k.manifest.constants)
    .filter(([n, x]) => n.startsWith(prefix) && typeof x === 'number' && x > 0 && (x & (x - 1)) === 0 && (value & x) !== 0)
    .map(([n]) => n.slice(prefix.length));
  return names.length ? names.join('|') : '0';
}

/** sysfs `resource` sizes of BARs 0-5 and the ROM (index 6). */
function sysfsResourceSizes(bdf: string): bigint[] {
  return readFileSync(`/sys/bus/pci/devices/${bdf}/resource`, 'utf8').trim().split('\n').map((line) => {
    const [start, end] = line.trim().split(/\s+/).map((x) => BigInt(x));
    return end! > start! || start !== 0n ? end! - start! + 1n : 0n;
  });
}

function regionChecks(ctx: Context, dev: OpenDevice): void {
  const { k, v } = ctx;
  const S = 'VFIO_DEVICE_GET_REGION_INFO';
  const rec = 'vfio_region_info';
  const bdf = dev.entry.bdf;
  const sizes = sysfsResourceSizes(bdf);
  const VGA = k.c('VFIO_PCI_VGA_REGION_INDEX');
  const CONFIG = k.c('VFIO_PCI_CONFIG_REGION_INDEX');
  v.run(S, `${bdf} minsz`, () => checkMinsz(ctx, dev.fd, S, rec, 'offset', { index: 0 }, S, bdf));
  const summary: string[] = [];
  for (let index = 0; index < dev.numRegions; index++) {
    v.run(S, `${bdf} region ${index}`, () => {
      if (index === VGA && !isVga(bdf)) {
        v.expectErrno(S, `${bdf} region ${index} (VGA) on a device that is not VGA`, 'EINVAL', () => ctx.call(dev.fd, S, k.encode(rec, { index })));
        return;
      }
      const reply = infoWithCaps(ctx, dev.fd, S, rec, { index }, S, `${bdf} region ${index}`);
      const info = reply.value;
      const region: RegionInfo = {
        index, flags: info.flags, size: BigInt(info.size), offset: BigInt(info.offset),
        capabilities: reply.caps.map((c) => ({ id: c.id, name: k.capability(rec, c.id)?.id ?? `id ${c.id}` })),
      };
      dev.regions[index] = region;
      const problems: string[] = [];
      if (info.index !== index) problems.push(`index ${info.index}`);
      if (index <= 6 && region.size !== (sizes[index] ?? 0n)) problems.push(`size ${region.size}, sysfs says ${sizes[index]}`);
      if (index === CONFIG && region.size !== BigInt(statSync(`/sys/bus/pci/devices/${bdf}/config`).size)) problems.push(`config size ${region.size}`);
      const rw = k.c('VFIO_REGION_INFO_FLAG_READ') | k.c('VFIO_REGION_INFO_FLAG_WRITE');
      if (region.size > 0n && index !== 6 && (region.flags & rw) !== rw) problems.push('not READ|WRITE');
      for (const cap of reply.caps) {
        const spec = k.capability(rec, cap.id);
        if (spec?.id === 'VFIO_REGION_INFO_CAP_SPARSE_MMAP') {
          const sparse = k.decode('vfio_region_info_cap_sparse_mmap', cap.bytes);
          const at = k.field('vfio_region_info_cap_sparse_mmap', 'areas').offset;
          const esize = k.sizeof('vfio_region_sparse_mmap_area');
          for (let i = 0; i < sparse.nr_areas; i++) {
            const area = k.decode('vfio_region_sparse_mmap_area', cap.bytes, at + i * esize);
            if (BigInt(area.offset) + BigInt(area.size) > region.size) problems.push(`sparse area ${i} beyond the region`);
          }
          region.capabilities.find((c) => c.id === cap.id)!.name += `(${sparse.nr_areas} areas)`;
        } else if (spec?.id === 'VFIO_REGION_INFO_CAP_TYPE') {
          const t = k.decode('vfio_region_info_cap_type', cap.bytes);
          region.capabilities.find((c) => c.id === cap.id)!.name += `(type ${t.type}, subtype ${t.subtype})`;
        } else if (!spec) problems.push(`capability id ${cap.id} not in this header`);
      }
      const flagText = flagNames(ctx, 'VFIO_REGION_INFO_FLAG_', region.flags);
      const caps = region.capabilities.length ? ` caps ${region.capabilities.map((c) => c.name).join(',')}` : '';
      summary.push(`${index}:${region.size > 0n ? `${region.size}B ${flagText}${caps}` : 'empty'}`);
      if (problems.length) v.fail(S, `${bdf} region ${index}: ${problems.join(', ')}`);
    });
  }
  v.pass(S, `${bdf}: ${summary.join(' ')}`);
  v.run(S, `${bdf} past the last region`, () => {
    v.expectErrno(S, `${bdf} region ${dev.numRegions} (past num_regions)`, 'EINVAL', () => ctx.call(dev.fd, S, k.encode(rec, { index: dev.numRegions })));
  });
}

function isVga(bdf: string): boolean {
  return readFileSync(`/sys/bus/pci/devices/${bdf}/class`, 'utf8').trim().startsWith('0x0300');
}

/** Config space capabilities, read through the config region: id -> offset. */
export function configCapabilities(ctx: Context, dev: OpenDevice): Map<number, number> {
  const cfg = dev.regions[ctx.k.c('VFIO_PCI_CONFIG_REGION_INDEX')]!.offset;
  const caps = new Map<number, number>();
  if ((readRegion(dev.fd, cfg + 0x06n, 2) & 0x10) === 0) return caps;
  for (let at = readRegion(dev.fd, cfg + 0x34n, 1) & 0xfc, guard = 0; at !== 0 && guard < 48; guard++) {
    caps.set(readRegion(dev.fd, cfg + BigInt(at), 1), at);
    at = readRegion(dev.fd, cfg + BigInt(at + 1), 1) & 0xfc;
  }
  return caps;
}

function irqInfoChecks(ctx: Context, dev: OpenDevice): void {
  const { k, v } = ctx;
  const S = 'VFIO_DEVICE_GET_IRQ_INFO';
  const rec = 'vfio_irq_info';
  const bdf = dev.entry.bdf;
  v.run(S, `${bdf} minsz`, () => checkMinsz(ctx, dev.fd, S, rec, 'count', { index: 0 }, S, bdf));
  // What config space says the counts must be.
  const expected: (number | undefined)[] = [];
  v.run(S, `${bdf} config space`, () => {
    const cfg = dev.regions[k.c('VFIO_PCI_CONFIG_REGION_INDEX')]!.offset;
    const caps = configCapabilities(ctx, dev);
    expected[k.c('VFIO_PCI_INTX_IRQ_INDEX')] = readRegion(dev.fd, cfg + 0x3dn, 1) !== 0 ? 1 : 0;
    const msi = caps.get(0x05);
    expected[k.c('VFIO_PCI_MSI_IRQ_INDEX')] = msi === undefined ? 0 : 1 << ((readRegion(dev.fd, cfg + BigInt(msi + 2), 2) >> 1) & 7);
    const msix = caps.get(0x11);
    expected[k.c('VFIO_PCI_MSIX_IRQ_INDEX')] = msix === undefined ? 0 : (readRegion(dev.fd, cfg + BigInt(msix + 2), 2) & 0x7ff) + 1;
    expected[k.c('VFIO_PCI_ERR_IRQ_INDEX')] = caps.has(0x10) ? 1 : 0;
    expected[k.c('VFIO_PCI_REQ_IRQ_INDEX')] = 1;
  });
  const summary: string[] = [];
  for (let index = 0; index < dev.numIrqs; index++) {
    v.run(S, `${bdf} irq ${index}`, () => {
      if (index === k.c('VFIO_PCI_ERR_IRQ_INDEX') && expected[index] === 0) {
        // vfio-pci has an error IRQ only for PCIe devices, and answers EINVAL for the others.
        v.expectErrno(S, `${bdf} irq ${index} (ERR) on a conventional PCI device`, 'EINVAL', () => ctx.call(dev.fd, S, k.encode(rec, { index })));
        dev.irqCounts[index] = 0;
        summary.push(`${index}:EINVAL(not PCIe)`);
        return;
      }
      const bytes = k.encode(rec, { index });
      ctx.call(dev.fd, S, bytes);
      const info = k.decode(rec, bytes);
      dev.irqCounts[index] = info.count;
      const problems: string[] = [];
      if (info.index !== index) problems.push(`index ${info.index}`);
      if (expected[index] !== undefined && info.count !== expected[index]) problems.push(`count ${info.count}, config space says ${expected[index]}`);
      const eventfd = k.c('VFIO_IRQ_INFO_EVENTFD');
      if (info.count > 0 && (info.flags & eventfd) === 0) problems.push('no EVENTFD flag');
      if (index === k.c('VFIO_PCI_INTX_IRQ_INDEX') && info.count > 0) {
        const want = eventfd | k.c('VFIO_IRQ_INFO_MASKABLE') | k.c('VFIO_IRQ_INFO_AUTOMASKED');
        if ((info.flags & want) !== want) problems.push('INTx not EVENTFD|MASKABLE|AUTOMASKED');
      }
      if (index === k.c('VFIO_PCI_MSI_IRQ_INDEX') && info.count > 0 && (info.flags & k.c('VFIO_IRQ_INFO_NORESIZE')) === 0) problems.push('MSI without NORESIZE');
      summary.push(`${index}:${info.count}x${flagNames(ctx, 'VFIO_IRQ_INFO_', info.flags)}`);
      if (problems.length) v.fail(S, `${bdf} irq ${index}: ${problems.join(', ')}`);
    });
  }
  v.pass(S, `${bdf}: ${summary.join(' ')} (counts agree with config space)`);
  v.run(S, `${bdf} past the last index`, () => {
    v.expectErrno(S, `${bdf} irq index ${dev.numIrqs} (past num_irqs)`, 'EINVAL', () => ctx.call(dev.fd, S, k.encode(rec, { index: dev.numIrqs })));
  });
}

/**
 * Config space and BAR0 of an edu device through the region offsets the
 * kernel reported: identification, command register, the inversion register
 * (by pread/pwrite and through an mmap of BAR0).
 */
export function regionAccessChecks(ctx: Context, dev: OpenDevice): void {
  const { k, v } = ctx;
  const S = 'VFIO_DEVICE_GET_REGION_INFO';
  const bdf = dev.entry.bdf;
  v.run(S, `${bdf} region access`, () => {
    const cfg = dev.regions[k.c('VFIO_PCI_CONFIG_REGION_INDEX')]!.offset;
    const ids = readRegion(dev.fd, cfg, 4);
    const sysIds = (parseInt(dev.entry.device, 16) << 16 | parseInt(dev.entry.vendor, 16)) >>> 0;
    v.expect(S, ids === sysIds, `${bdf}: config dword 0 through the config region = ${hex(ids, 8)} (vendor/device)`);
    const cmd = readRegion(dev.fd, cfg + 4n, 2);
    writeRegion(dev.fd, cfg + 4n, cmd | 0x6, 2); // memory space + bus master
    const after = readRegion(dev.fd, cfg + 4n, 2);
    v.expect(S, (after & 0x6) === 0x6, `${bdf}: PCI_COMMAND ${hex(cmd, 4)} -> ${hex(after, 4)} (MEMORY|MASTER set through config writes)`);

    const bar0 = dev.regions[k.c('VFIO_PCI_BAR0_REGION_INDEX')]!;
    const id = ctx.edu32(readRegion(dev.fd, bar0.offset, 4));
    v.expect(S, id === EDU_ID, `${bdf}: BAR0+0x00 (pread) = ${hex(id, 8)} (edu identification)`, `expected ${hex(EDU_ID, 8)}`);
    writeRegion(dev.fd, bar0.offset + 4n, 0x12345678);
    const inv = readRegion(dev.fd, bar0.offset + 4n);
    v.expect(S, inv === (~0x12345678 >>> 0), `${bdf}: BAR0+0x04 (pwrite 0x12345678, pread) = ${hex(inv, 8)} (inverted)`);

    if (!ctx.platform.mmioAccess) {
      v.note(S, `${bdf}: BAR0 not accessed through mmap: CPU loads from an mmapped BAR are not possible on ${ctx.platform.arch}`);
      return;
    }
    if ((bar0.flags & k.c('VFIO_REGION_INFO_FLAG_MMAP')) === 0) {
      v.fail(S, `${bdf}: BAR0 is not mmap-able (flags ${flagNames(ctx, 'VFIO_REGION_INFO_FLAG_', bar0.flags)})`);
      return;
    }
    const len = 4096;
    const ptr = libc().mmap(null, len, PROT_READ | PROT_WRITE, MAP_SHARED, dev.fd.fd, bar0.offset);
    if (ptr === null || addressOf(ptr) === 0xffff_ffff_ffff_ffffn) throw new Error('mmap of BAR0 failed');
    try {
      const regs = new Uint32Array(nativeView(ptr, len));
      const mid = ctx.edu32(regs[0]!);
      regs[1] = 0xa5a5a5a5;
      const minv = regs[1]!;
      v.expect(S, mid === EDU_ID && minv === 0x5a5a5a5a, `${bdf}: BAR0 mmap: id ${hex(mid, 8)}, inversion 0xa5a5a5a5 -> ${hex(minv, 8)}`);
    } finally {
      libc().munmap(ptr, len);
    }
  });
}
