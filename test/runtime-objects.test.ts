/**
 * Container, Group and Device without VFIO: real syscalls on /dev/null-like
 * fds for the error paths, and recorded kernel replies (built with the
 * generated codecs, laid out as Linux 6.1 answered in the VM) through the
 * injectable syscalls for argsz growth and capability decoding.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { thrown } from './helpers.js';
import * as vfio from '../generated/vfio/index.js';
import {
  ArgszError, CapabilityChainError, Container, Device, EventFd, Group, IoctlError, OwnedFd, SyscallError, VfioError,
  isNoDevice, isWrongFdKind, type RawIoctl, type RawIoctlValue, type VfioSyscalls,
} from '../runtime/index.js';

const EINVAL = 22;
const ENODEV = 19;
const ENOSPC = 28;
const ENOTTY = 25;
const req = (name: string) => vfio.ioctls[name].request;
const openFds = () => readdirSync('/proc/self/fd').sort();
const dataView = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);


/** A fake kernel: per request number, a handler of the buffer; every other pointer ioctl is -ENOTTY. */
function kernel(handlers: Record<string, (buf: Uint8Array) => number>, log?: string[]): VfioSyscalls {
  const byRequest = new Map(Object.entries(handlers).map(([name, h]) => [req(name), { name, h }]));
  const ioctl: RawIoctl = (_fd, request, buf) => {
    const entry = byRequest.get(request);
    log?.push(`${entry?.name ?? request.toString(16)} argsz=${buf.byteLength}`);
    return entry ? entry.h(buf) : -ENOTTY;
  };
  const ioctlValue: RawIoctlValue = (_fd, request, value) => {
    log?.push(`value ${request.toString(16)} ${value}`);
    if (request === req('VFIO_GET_API_VERSION')) return vfio.VFIO_API_VERSION;
    if (request === req('VFIO_CHECK_EXTENSION')) return value === vfio.VFIO_TYPE1v2_IOMMU ? 1 : 0;
    return 0;
  };
  return { ioctl, ioctlValue };
}

/** `VFIO_DEVICE_GET_INFO` of a PCI device with 9 regions and 5 irqs, no capabilities. */
const deviceInfo = (buf: Uint8Array) => {
  vfio.vfio_device_info.encodeInto(dataView(buf), 0, { argsz: 24, flags: vfio.VFIO_DEVICE_FLAGS_PCI, num_regions: 9, num_irqs: 5 });
  return 0;
};

/** Replies like `kernelReply` once the buffer is `full.byteLength` long; before that the fixed part with argsz = what it needs. */
function argszReply(full: Uint8Array, fixedSize: number, capOffsetAt: number) {
  return (buf: Uint8Array): number => {
    const argsz = dataView(buf).getUint32(0, true);
    expect(argsz).toBe(buf.byteLength);
    if (argsz < fixedSize) return -EINVAL;
    if (argsz < full.byteLength) {
      buf.set(full.subarray(0, fixedSize));
      dataView(buf).setUint32(capOffsetAt, 0, true);
      return 0;
    }
    buf.set(full);
    return 0;
  };
}

/** `VFIO_IOMMU_GET_INFO` as Linux 6.1 answered in the VM: migration@24, dma_avail@56, iova_range@68 (4-aligned, before 6.6's padding). */
function iommuInfoReply(): Uint8Array {
  const full = new Uint8Array(68 + 16 + 2 * 16);
  vfio.vfio_iommu_type1_info.encodeInto(dataView(full), 0, {
    argsz: full.byteLength, flags: vfio.VFIO_IOMMU_INFO_PGSIZES | vfio.VFIO_IOMMU_INFO_CAPS, iova_pgsizes: 0x40201000n, cap_offset: 24,
  });
  full.set(vfio.vfio_iommu_type1_info_cap_migration.encode({
    header: { id: vfio.VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION, version: 1, next: 56 }, flags: 0, pgsize_bitmap: 0x1000n, max_dirty_bitmap_size: 0x10000000n,
  }), 24);
  full.set(vfio.vfio_iommu_type1_info_dma_avail.encode({ header: { id: vfio.VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL, version: 1, next: 68 }, avail: 65535 }), 56);
  full.set(vfio.vfio_iommu_type1_info_cap_iova_range.encode({
    header: { id: vfio.VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE, version: 1, next: 0 }, nr_iovas: 2,
    iova_ranges: [{ start: 0n, end: 0xfedfffffn }, { start: 0xfef00000n, end: 0x7fffffffffn }],
  }), 68);
  return full;
}

/** `VFIO_DEVICE_GET_REGION_INFO` of a BAR with a sparse mmap (2 areas), a type and an MSI-X-mappable capability. */
function regionInfoReply(index: number): Uint8Array {
  const full = new Uint8Array(32 + 48 + 16 + 8);
  vfio.vfio_region_info.encodeInto(dataView(full), 0, {
    argsz: full.byteLength, index, cap_offset: 32, size: 0x4000n, offset: BigInt(index) << 40n,
    flags: vfio.VFIO_REGION_INFO_FLAG_READ | vfio.VFIO_REGION_INFO_FLAG_WRITE | vfio.VFIO_REGION_INFO_FLAG_MMAP | vfio.VFIO_REGION_INFO_FLAG_CAPS,
  });
  full.set(vfio.vfio_region_info_cap_sparse_mmap.encode({
    header: { id: vfio.VFIO_REGION_INFO_CAP_SPARSE_MMAP, version: 1, next: 80 }, nr_areas: 2,
    areas: [{ offset: 0n, size: 0x1000n }, { offset: 0x3000n, size: 0x1000n }],
  }), 32);
  full.set(vfio.vfio_region_info_cap_type.encode({ header: { id: vfio.VFIO_REGION_INFO_CAP_TYPE, version: 1, next: 96 }, type: 0x8086, subtype: 3 }), 80);
  full.set(vfio.vfio_info_cap_header.encode({ id: vfio.VFIO_REGION_INFO_CAP_MSIX_MAPPABLE, version: 1, next: 0 }), 96);
  return full;
}

const devNull = () => OwnedFd.open('/dev/null');

describe('wrong kinds of fd', () => {
  it('Container.open on /dev/null: ENOTTY naming VFIO_GET_API_VERSION and the path, fd closed', () => {
    const before = openFds();
    const error = thrown(() => Container.open({ path: '/dev/null' }));
    expect(error).toBeInstanceOf(IoctlError);
    expect(error).toMatchObject({ code: 'ENOTTY', ioctl: 'VFIO_GET_API_VERSION', request: vfio.VFIO_GET_API_VERSION });
    expect(error.message).toMatch(/^VFIO_GET_API_VERSION \(0x3b64\) on fd \d+: ENOTTY \(Inappropriate ioctl for device\): \/dev\/null does not implement it \(not a VFIO container fd/);
    expect(isWrongFdKind(error)).toBe(true);
    expect(openFds()).toEqual(before);
  });

  it('Group.open and Device.fromFd on /dev/null name their first ioctl', () => {
    expect(thrown(() => Group.open('/dev/null'))).toMatchObject({ code: 'ENOTTY', ioctl: 'VFIO_GROUP_GET_STATUS', message: expect.stringContaining('not a VFIO group fd') });
    const fd = devNull();
    expect(thrown(() => Device.fromFd(fd, { name: 'x' }))).toMatchObject({ code: 'ENOTTY', ioctl: 'VFIO_DEVICE_GET_INFO' });
    expect(fd.closed).toBe(true);
  });

  it('an ioctl of another kind on a working object is ENOTTY too', () => {
    using container = Container.fromFd(devNull(), kernel({}));
    expect(thrown(() => container.iommuInfo())).toMatchObject({ code: 'ENOTTY', ioctl: 'VFIO_IOMMU_GET_INFO' });
  });
});

describe('missing devices and permissions', () => {
  it('no such container or group: SyscallError ENOENT with a hint', () => {
    const error = thrown(() => Container.open({ path: '/nonexistent/vfio' }));
    expect(error).toBeInstanceOf(SyscallError);
    expect(error).toMatchObject({ code: 'ENOENT', syscall: 'open' });
    expect(error.message).toBe('open /nonexistent/vfio: ENOENT (No such file or directory): no VFIO container (is the vfio module loaded and the device bound to vfio-pci?)');
    expect(isNoDevice(error)).toBe(true);
    expect(thrown(() => Group.open(987654))).toMatchObject({ code: 'ENOENT', message: expect.stringContaining('no VFIO group 987654') });
  });

  const dist = resolve(import.meta.dirname, '../packages/vfio-uapi/dist/runtime/index.js');
  it.skipIf(!existsSync(dist))('permission denied: EACCES with a hint (as an unprivileged user)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vfio-perm-'));
    try {
      const file = join(dir, 'vfio');
      writeFileSync(file, '', { mode: 0o600 });
      const script = `import { Container, isPermissionDenied } from ${JSON.stringify(dist)};
        try { Container.open({ path: ${JSON.stringify(file)} }); } catch (e) { console.log(JSON.stringify({ name: e.name, code: e.code, message: e.message, denied: isPermissionDenied(e) })); }`;
      const asNobody = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
      const out = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { ...asNobody, encoding: 'utf8' }));
      expect(out).toMatchObject({ name: 'SyscallError', code: 'EACCES', denied: true });
      expect(out.message).toContain('permission denied for the VFIO container');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('argsz growth and capabilities against recorded replies', () => {
  it('iommuInfo: grows to the argsz asked for and decodes the 6.1 chain (4-aligned offsets)', () => {
    const log: string[] = [];
    using container = Container.fromFd(devNull(), kernel({ VFIO_IOMMU_GET_INFO: argszReply(iommuInfoReply(), 24, 16) }, log));
    const info = container.iommuInfo();
    expect(log.filter((l) => l.startsWith('VFIO_'))).toEqual(['VFIO_IOMMU_GET_INFO argsz=24', 'VFIO_IOMMU_GET_INFO argsz=116']);
    expect(info.flagNames).toEqual(['VFIO_IOMMU_INFO_PGSIZES', 'VFIO_IOMMU_INFO_CAPS']);
    expect(info.iovaPgsizes).toBe(0x40201000n);
    expect(info.capabilities.map((c) => [c.name, c.offset, c.version])).toEqual([
      ['VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION', 24, 1], ['VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL', 56, 1], ['VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE', 68, 1],
    ]);
    expect(info.iovaRanges).toEqual([{ start: 0n, end: 0xfedfffffn }, { start: 0xfef00000n, end: 0x7fffffffffn }]);
    expect(info.migration).toMatchObject({ flags: 0, pgsize_bitmap: 0x1000n, max_dirty_bitmap_size: 0x10000000n });
    expect(info.dmaAvail).toBe(65535);
  });

  it('regionInfo: sparse mmap areas, type and MSI-X mappable; mmap outside the areas is refused', () => {
    const log: string[] = [];
    using device = Device.fromFd(devNull(), {
      name: 'fake', ...kernel({ VFIO_DEVICE_GET_INFO: deviceInfo, VFIO_DEVICE_GET_REGION_INFO: (buf) => argszReply(regionInfoReply(dataView(buf).getUint32(8, true)), 32, 12)(buf) }, log),
    });
    const region = device.regionInfo(3);
    expect(log.filter((l) => l.startsWith('VFIO_DEVICE_GET_REGION'))).toEqual(['VFIO_DEVICE_GET_REGION_INFO argsz=32', 'VFIO_DEVICE_GET_REGION_INFO argsz=104']);
    expect(region).toMatchObject({ index: 3, size: 0x4000n, offset: 3n << 40n, readable: true, writable: true, mappable: true, msixMappable: true });
    expect(region.sparseMmap).toEqual([{ offset: 0n, size: 0x1000n }, { offset: 0x3000n, size: 0x1000n }]);
    expect(region.type).toMatchObject({ type: 0x8086, subtype: 3 });
    expect(region.capabilities.map((c) => c.name)).toEqual(['VFIO_REGION_INFO_CAP_SPARSE_MMAP', 'VFIO_REGION_INFO_CAP_TYPE', 'VFIO_REGION_INFO_CAP_MSIX_MAPPABLE']);
    expect(() => device.mmap(3, { offset: 0x1000 })).toThrow(/outside its sparse mmap areas/);
    expect(() => device.mmap(3, { offset: 0, size: 0x2000 })).toThrow(RangeError);
    // Inside an area the real mmap runs, on /dev/null: ENODEV.
    expect(thrown(() => device.mmap(3, { offset: 0x3000 }))).toMatchObject({ syscall: 'mmap', code: 'ENODEV' });
  });

  it('a chain that does not fit its buffer is a CapabilityChainError, and the object stays usable', () => {
    const outOfRange = iommuInfoReply();
    dataView(outOfRange).setUint32(60, 400, true); // dma_avail.next past the end
    using a = Container.fromFd(devNull(), kernel({ VFIO_IOMMU_GET_INFO: argszReply(outOfRange, 24, 16) }));
    expect(thrown(() => a.iommuInfo())).toMatchObject({ name: 'CapabilityChainError', problem: 'out-of-range' });

    const tooMany = iommuInfoReply();
    dataView(tooMany).setUint32(68 + 8, 3, true); // nr_iovas = 3, room for 2
    using b = Container.fromFd(devNull(), kernel({ VFIO_IOMMU_GET_INFO: argszReply(tooMany, 24, 16) }));
    const error = thrown(() => b.iommuInfo());
    expect(error).toBeInstanceOf(CapabilityChainError);
    expect(error.message).toMatch(/nr_iovas = 3, its 48 bytes hold 2/);
    expect(b.apiVersion()).toBe(0);
  });

  it('a kernel that keeps asking for more is cut off (ArgszError)', () => {
    const greedy = (buf: Uint8Array) => (dataView(buf).setUint32(0, buf.byteLength + 8, true), 0);
    using device = Device.fromFd(devNull(), kernel({ VFIO_DEVICE_GET_INFO: deviceInfo, VFIO_DEVICE_GET_REGION_INFO: greedy }));
    expect(() => device.regionInfo(0)).toThrow(ArgszError);
  });

  it('pciHotResetInfo grows on ENOSPC with the count the kernel reports', () => {
    const sizes: number[] = [];
    const codec = vfio.vfio_pci_hot_reset_info;
    using device = Device.fromFd(devNull(), kernel({
      VFIO_DEVICE_GET_INFO: deviceInfo,
      VFIO_DEVICE_GET_PCI_HOT_RESET_INFO: (buf) => {
        sizes.push(dataView(buf).getUint32(0, true));
        if (buf.byteLength < codec.argszFor(2)) {
          codec.encodeInto(dataView(buf), 0, { argsz: buf.byteLength, count: 2 });
          return -ENOSPC;
        }
        buf.set(codec.encode({ argsz: buf.byteLength, count: 2, devices: [
          { group_id: 7, devid: 7, segment: 0, bus: 2, devfn: 8 }, { group_id: 8, devid: 8, segment: 1, bus: 0x1f, devfn: 0x1d },
        ] }));
        return 0;
      },
    }));
    const info = device.pciHotResetInfo();
    expect(sizes).toEqual([12, 28]); // 12 + 2 * sizeof(struct vfio_pci_dependent_device)
    expect(info.devices.map((d) => [d.group_id, d.bdf])).toEqual([[7, '0000:02:01.0'], [8, '0001:1f:03.5']]);
  });
});

describe('how arguments reach the kernel', () => {
  it('by value for CHECK_EXTENSION/SET_IOMMU, by pointer for SET_CONTAINER and GET_DEVICE_FD', () => {
    const log: string[] = [];
    const seen: Record<string, Uint8Array> = {};
    const record = (name: string, ret = 0) => (buf: Uint8Array) => ((seen[name] = buf.slice()), ret);
    using container = Container.fromFd(devNull(), kernel({}, log));
    expect(container.checkExtension(vfio.VFIO_TYPE1v2_IOMMU)).toBe(1);
    container.setIommu(vfio.VFIO_TYPE1v2_IOMMU);
    expect(log).toContain(`value ${req('VFIO_CHECK_EXTENSION').toString(16)} ${vfio.VFIO_TYPE1v2_IOMMU}`);
    expect(log).toContain(`value ${req('VFIO_SET_IOMMU').toString(16)} ${vfio.VFIO_TYPE1v2_IOMMU}`);

    const groupStatus = (buf: Uint8Array) => (dataView(buf).setUint32(4, vfio.VFIO_GROUP_FLAGS_VIABLE, true), 0);
    using group = Group.fromFd(devNull(), kernel({
      VFIO_GROUP_GET_STATUS: groupStatus, VFIO_GROUP_SET_CONTAINER: record('set'), VFIO_GROUP_GET_DEVICE_FD: record('get', -ENODEV),
    }));
    expect(group.status()).toMatchObject({ viable: true, containerSet: false, flagNames: ['VFIO_GROUP_FLAGS_VIABLE'] });
    group.setContainer(container);
    expect(Array.from(new Int32Array(seen.set.buffer))).toEqual([container.fd]);
    expect(thrown(() => group.openDevice('0000:00:10.0'))).toMatchObject({ code: 'ENODEV', ioctl: 'VFIO_GROUP_GET_DEVICE_FD' });
    expect(new TextDecoder().decode(seen.get)).toBe('0000:00:10.0\0');
  });

  it('setIrqs / disableIrqs encode vfio_irq_set as documented', () => {
    const sets: ReturnType<typeof vfio.vfio_irq_set.decode>[] = [];
    const datas: Uint8Array[] = [];
    using device = Device.fromFd(devNull(), kernel({
      VFIO_DEVICE_GET_INFO: deviceInfo,
      VFIO_DEVICE_SET_IRQS: (buf) => (sets.push(vfio.vfio_irq_set.decode(buf)), datas.push(vfio.vfio_irq_set.decodeFlex(buf)), 0),
    }));
    using a = EventFd.create();
    using b = EventFd.create();
    device.setIrqs({ index: vfio.VFIO_PCI_MSIX_IRQ_INDEX, start: 1, action: 'trigger', data: 'eventfd', eventfds: [a, null, b] });
    device.setIrqs({ index: vfio.VFIO_PCI_INTX_IRQ_INDEX, action: 'mask', data: 'bool', bools: [true] });
    device.disableIrqs(vfio.VFIO_PCI_MSI_IRQ_INDEX);
    expect(sets[0]).toEqual({ argsz: 32, flags: vfio.VFIO_IRQ_SET_DATA_EVENTFD | vfio.VFIO_IRQ_SET_ACTION_TRIGGER, index: 2, start: 1, count: 3 });
    expect(Array.from(new Int32Array(datas[0].slice().buffer))).toEqual([a.fd, -1, b.fd]);
    expect(sets[1]).toEqual({ argsz: 21, flags: vfio.VFIO_IRQ_SET_DATA_BOOL | vfio.VFIO_IRQ_SET_ACTION_MASK, index: 0, start: 0, count: 1 });
    expect(Array.from(datas[1])).toEqual([1]);
    expect(sets[2]).toEqual({ argsz: 20, flags: vfio.VFIO_IRQ_SET_DATA_NONE | vfio.VFIO_IRQ_SET_ACTION_TRIGGER, index: 1, start: 0, count: 0 });
    expect(() => device.setIrqs({ index: 2, count: 2, action: 'trigger', data: 'eventfd', eventfds: [a] })).toThrow(RangeError);
  });

  it('DMA map/unmap and feature probing', () => {
    const maps: unknown[] = [];
    using container = Container.fromFd(devNull(), kernel({
      VFIO_IOMMU_MAP_DMA: (buf) => (maps.push(vfio.vfio_iommu_type1_dma_map.decode(buf)), 0),
      VFIO_IOMMU_UNMAP_DMA: (buf) => {
        const u = vfio.vfio_iommu_type1_dma_unmap.decode(buf);
        maps.push(u);
        dataView(buf).setBigUint64(16, u.flags & vfio.VFIO_DMA_UNMAP_FLAG_ALL ? 0x3000n : u.size, true);
        return 0;
      },
    }));
    container.mapDma({ vaddr: 0x7f0000000000n, iova: 0x100000n, size: 4096 });
    expect(container.unmapDma({ iova: 0x100000n, size: 4096 })).toBe(4096n);
    expect(container.unmapDma({ all: true })).toBe(0x3000n);
    expect(maps).toEqual([
      { argsz: 32, flags: vfio.VFIO_DMA_MAP_FLAG_READ | vfio.VFIO_DMA_MAP_FLAG_WRITE, vaddr: 0x7f0000000000n, iova: 0x100000n, size: 4096n },
      { argsz: 24, flags: 0, iova: 0x100000n, size: 4096n },
      { argsz: 24, flags: vfio.VFIO_DMA_UNMAP_FLAG_ALL, iova: 0n, size: 0n },
    ]);

    const probes: number[] = [];
    using device = Device.fromFd(devNull(), kernel({
      VFIO_DEVICE_GET_INFO: deviceInfo,
      VFIO_DEVICE_FEATURE: (buf) => {
        const { flags } = vfio.vfio_device_feature.decode(buf);
        probes.push(flags);
        if ((flags & vfio.VFIO_DEVICE_FEATURE_MASK) !== vfio.VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY) return -ENOTTY;
        return flags & vfio.VFIO_DEVICE_FEATURE_GET ? -EINVAL : 0;
      },
    }));
    expect(device.probeFeature(vfio.VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY)).toEqual({ supported: true, get: false, set: true });
    expect(device.probeFeature(vfio.VFIO_DEVICE_FEATURE_MIGRATION)).toEqual({ supported: false, get: false, set: false });
    const P = vfio.VFIO_DEVICE_FEATURE_PROBE;
    const L = vfio.VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY;
    expect(probes).toEqual([P | L, P | vfio.VFIO_DEVICE_FEATURE_GET | L, P | vfio.VFIO_DEVICE_FEATURE_SET | L, P | vfio.VFIO_DEVICE_FEATURE_MIGRATION]);
  });

  it('region accesses are checked against the region before any syscall', () => {
    const region = (buf: Uint8Array) => {
      vfio.vfio_region_info.encodeInto(dataView(buf), 0, { argsz: 32, index: 7, size: 0x100n, offset: 7n << 40n, flags: vfio.VFIO_REGION_INFO_FLAG_READ });
      return 0;
    };
    const handlers = { VFIO_DEVICE_GET_INFO: deviceInfo, VFIO_DEVICE_GET_REGION_INFO: region };
    using device = Device.fromFd(devNull(), kernel(handlers));
    expect(() => device.read32(7, 0xfe)).toThrow(RangeError);
    expect(() => device.write32(7, 0, 1)).toThrow(/not writable/);
    expect(() => device.mmap(7)).toThrow(VfioError);
    // The pread itself: /dev/null is at end of file (a short read), /dev/zero reads zeros at 7 << 40.
    expect(() => device.read32(7, 0)).toThrow(/pread at 0x70000000000 made no progress/);
    using zero = Device.fromFd(OwnedFd.open('/dev/zero'), kernel(handlers));
    expect(zero.read32(7, 0x10)).toBe(0);
  });
});

describe('fd hygiene', () => {
  it('/proc/self/fd is unchanged after many failed opens, constructors and openDevice calls', () => {
    const before = openFds();
    for (let i = 0; i < 100; i++) {
      expect(() => Container.open({ path: '/dev/null' })).toThrow(IoctlError);
      expect(() => Container.open({ path: '/nonexistent' })).toThrow(SyscallError);
      expect(() => Group.open('/dev/null')).toThrow(IoctlError);
      expect(() => Group.open(987654)).toThrow(SyscallError);
      expect(() => Device.fromFd(devNull())).toThrow(IoctlError);
    }
    // openDevice: the kernel hands out a real fd, then GET_INFO on it fails; the fd must be closed.
    const handedOut: number[] = [];
    const groupStatus = (buf: Uint8Array) => (dataView(buf).setUint32(4, vfio.VFIO_GROUP_FLAGS_VIABLE, true), 0);
    const group = Group.fromFd(devNull(), kernel({
      VFIO_GROUP_GET_STATUS: groupStatus,
      VFIO_GROUP_GET_DEVICE_FD: () => {
        const fd = OwnedFd.open('/dev/null').release();
        handedOut.push(fd);
        return fd;
      },
      // VFIO_DEVICE_GET_INFO is not handled: -ENOTTY.
    }));
    for (let i = 0; i < 100; i++) expect(() => group.openDevice('0000:00:10.0')).toThrow(expect.objectContaining({ ioctl: 'VFIO_DEVICE_GET_INFO' }));
    expect(handedOut).toHaveLength(100);
    group.close();
    group.close();
    expect(group.closed).toBe(true);
    expect(() => group.status()).toThrow(/closed/);
    expect(openFds()).toEqual(before);
  });

  it('using closes a device and its mappings', () => {
    const before = openFds();
    {
      using device = Device.fromFd(devNull(), kernel({ VFIO_DEVICE_GET_INFO: deviceInfo }));
      expect(device.closed).toBe(false);
    }
    expect(openFds()).toEqual(before);
  });
});

