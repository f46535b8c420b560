/**
 * A VFIO device fd: regions (read/write/mmap), interrupts, resets, features.
 */

import { existsSync, readdirSync } from 'node:fs';
import { endianness } from 'node:os';
import { retireMapping } from './memory.js';
import * as vfio from '../../generated/vfio/index.js';
import type { VfioPciDependentDevice, VfioRegionInfoCapType, VfioRegionSparseMmapArea } from '../../generated/vfio/index.js';
import { SyscallError, VfioError } from './errors.js';
import type { EventFd } from './eventfd.js';
import { OwnedFd } from './fd.js';
import type { Group } from './group.js';
import { bitNames, idOf, type IommuFd, type IommufdObjectRef } from './iommufd.js';
import { AnonymousMemory } from './memory.js';
import {
  MIGRATION_FLAGS, MigrationData, migrationStateName, migrationStateValue,
  type MigrationInfo, type MigrationStateName,
} from './migration.js';
import { MAP_FAILED, MAP_SHARED, PROT_READ, PROT_WRITE, addressOf, errno, libc, nativeView, pageSize, type NativePointer } from './libc.js';
import {
  VfioFd, capabilityValue, decodeCapabilities, descriptor, initOrClose, openVfioPath,
  type DecodedCapability, type VfioSyscalls,
} from './vfio-fd.js';

/** Options of {@link Device.fromFd}. */
export interface DeviceOptions extends VfioSyscalls {
  /** The device's name (PCI address), for messages. */
  readonly name?: string;
}

/** Options of {@link Device.openCdev}. */
export interface CdevOptions extends DeviceOptions {
  /** Bind to this iommufd right away (then `VFIO_DEVICE_GET_INFO` is checked, as for group-path devices). */
  readonly iommufd?: IommuFd;
}

/** What {@link Device.setMigrationState} returns. */
export interface MigrationTransition {
  /** The state the device is in now. */
  readonly state: MigrationStateName;
  /** The data fd, when the transition started a session (→ PRE_COPY, STOP_COPY from STOP, RESUMING); else `undefined`. */
  readonly data: MigrationData | undefined;
}

/** What {@link Device.info} returns: `struct vfio_device_info` and its capabilities. */
export interface DeviceInfo {
  /** `VFIO_DEVICE_FLAGS_*`. */
  readonly flags: number;
  /** `flags` decoded (`VFIO_DEVICE_FLAGS_PCI`, `VFIO_DEVICE_FLAGS_RESET`, ...). */
  readonly flagNames: readonly string[];
  /** Number of regions (indices 0 .. numRegions - 1). */
  readonly numRegions: number;
  /** Number of IRQ indices. */
  readonly numIrqs: number;
  /** The capability chain, decoded. */
  readonly capabilities: readonly DecodedCapability[];
}

/** What {@link Device.regionInfo} returns: `struct vfio_region_info` and its capabilities. */
export interface RegionInfo {
  /** Region index (`VFIO_PCI_BAR0_REGION_INDEX`, ...). */
  readonly index: number;
  /** `VFIO_REGION_INFO_FLAG_*`. */
  readonly flags: number;
  /** `flags` decoded (`VFIO_REGION_INFO_FLAG_READ`, `_WRITE`, `_MMAP`, `_CAPS`). */
  readonly flagNames: readonly string[];
  /** Size in bytes (0: the region does not exist, e.g. an unimplemented BAR). */
  readonly size: bigint;
  /** Offset of the region in the device fd (for pread/pwrite/mmap). */
  readonly offset: bigint;
  /** `FLAG_READ`: pread works. */
  readonly readable: boolean;
  /** `FLAG_WRITE`: pwrite works. */
  readonly writable: boolean;
  /** `FLAG_MMAP`: {@link Device.mmap} works. */
  readonly mappable: boolean;
  /** The capability chain, decoded. */
  readonly capabilities: readonly DecodedCapability[];
  /** `VFIO_REGION_INFO_CAP_SPARSE_MMAP`: only these parts may be mmapped. */
  readonly sparseMmap?: readonly VfioRegionSparseMmapArea[];
  /** `VFIO_REGION_INFO_CAP_TYPE`: a device-specific region's type and subtype. */
  readonly type?: VfioRegionInfoCapType;
  /** `VFIO_REGION_INFO_CAP_MSIX_MAPPABLE`: the MSI-X table in this BAR may be mmapped. */
  readonly msixMappable: boolean;
}

/** What {@link Device.irqInfo} returns. */
export interface IrqInfo {
  /** IRQ index (`VFIO_PCI_INTX_IRQ_INDEX`, ...). */
  readonly index: number;
  /** `VFIO_IRQ_INFO_*`. */
  readonly flags: number;
  /** `flags` decoded (`VFIO_IRQ_INFO_EVENTFD`, `_MASKABLE`, `_AUTOMASKED`, `_NORESIZE`). */
  readonly flagNames: readonly string[];
  /** Number of vectors (0: this interrupt type is not available). */
  readonly count: number;
}

/** What {@link Device.setIrqs} does. */
export interface IrqSet {
  /** IRQ index (`VFIO_PCI_MSI_IRQ_INDEX`, ...). */
  readonly index: number;
  /** First vector (default 0). */
  readonly start?: number;
  /** Number of vectors; default the length of `eventfds`/`bools`, else 1. */
  readonly count?: number;
  /** `trigger` (signal on interrupt), `mask`, `unmask`. */
  readonly action: 'trigger' | 'mask' | 'unmask';
  /** `none`: act on every vector of the range; `bool`: per-vector flags; `eventfd`: per-vector fds. */
  readonly data: 'none' | 'bool' | 'eventfd';
  /** For `data: 'eventfd'`: one per vector; `null` or -1 detaches that vector. */
  readonly eventfds?: readonly (EventFd | number | null)[];
  /** For `data: 'bool'`. */
  readonly bools?: readonly boolean[];
}

/** A device that a PCI hot reset affects ({@link Device.pciHotResetInfo}). */
export interface HotResetDevice extends VfioPciDependentDevice {
  /** `SSSS:BB:DD.F`. */
  readonly bdf: string;
}

/** What {@link Device.pciHotResetInfo} returns. */
export interface HotResetInfo {
  /** `VFIO_PCI_HOT_RESET_FLAG_*`. */
  readonly flags: number;
  /** `flags` decoded. */
  readonly flagNames: readonly string[];
  /** Every device the reset affects, this one included. */
  readonly devices: readonly HotResetDevice[];
}

/** What {@link Device.probeFeature} returns. */
export interface FeatureSupport {
  /** The device knows the feature. */
  readonly supported: boolean;
  /** `VFIO_DEVICE_FEATURE_GET` is supported. */
  readonly get: boolean;
  /** `VFIO_DEVICE_FEATURE_SET` is supported. */
  readonly set: boolean;
}

/** An ioeventfd ({@link Device.ioeventfd}): when `eventfd` is signalled, the kernel writes `data` at `offset` of region `index`. */
export interface Ioeventfd {
  /** Region index (a BAR). */
  readonly index: number;
  /** Offset in the region. */
  readonly offset: number | bigint;
  /** Access size in bytes. */
  readonly size: 1 | 2 | 4 | 8;
  /** The value written. */
  readonly data: number | bigint;
  /** The eventfd; `null` removes the ioeventfd matching offset, size and data. */
  readonly eventfd: EventFd | number | null;
}

const hostLittleEndian = endianness() === 'LE';
const ENOSPC = 28;

/**
 * A VFIO device. Obtained from {@link Group.openDevice}; owns its fd and the
 * region mappings it made ({@link Device.close} unmaps them).
 *
 * Region accessors (`read32`, `write32`, ...) use pread/pwrite on the device
 * fd, little-endian like PCI registers.
 */
export class Device extends VfioFd {
  /** Always `'device'`. */
  readonly kind = 'device' as const;
  /** The name it was opened with (PCI address), if known. */
  readonly name: string | undefined;
  readonly #regions = new Map<number, RegionInfo>();
  readonly #mappings = new Set<MappedRegion>();
  #devId: number | undefined;

  private constructor(fd: OwnedFd, options: DeviceOptions) {
    super(fd, options);
    this.name = options.name;
  }

  /** Takes ownership of an open device fd and checks it answers `VFIO_DEVICE_GET_INFO` (closed if not). */
  static fromFd(fd: OwnedFd, options: DeviceOptions = {}): Device {
    return initOrClose(new Device(fd, options), (device) => device.info());
  }

  /**
   * Opens a device cdev (`/dev/vfio/devices/vfioN`, see {@link vfioCdevPath}).
   * A cdev answers nothing but `VFIO_DEVICE_BIND_IOMMUFD` until it is bound
   * (the kernel refuses other ioctls with `EINVAL`), so without
   * `options.iommufd` the device is returned unchecked: bind it next.
   * With `options.iommufd` it is bound and `VFIO_DEVICE_GET_INFO` checked; the
   * fd is closed if either fails.
   * @throws SyscallError (`open`): `ENOENT` no such cdev (no `CONFIG_VFIO_DEVICE_CDEV`?), `EACCES`/`EPERM`.
   */
  static openCdev(path: string, options: CdevOptions = {}): Device {
    const device = new Device(openVfioPath(path, 'VFIO device cdev'), { ...options, name: options.name ?? path });
    const { iommufd } = options;
    if (iommufd === undefined) return device;
    return initOrClose(device, (d) => {
      d.bindIommufd(iommufd);
      d.info();
    });
  }

  /** The dev id {@link Device.bindIommufd} returned (the device's handle in iommufd commands), or `undefined` before. */
  get devId(): number | undefined {
    return this.#devId;
  }

  /**
   * `VFIO_DEVICE_BIND_IOMMUFD` (cdev fds only): binds the device to `iommufd`;
   * returns its dev id. Closing the device fd unbinds it.
   * @param options `token`: the 16-byte VF token (a UUID) a VF of a PF with one needs (`VFIO_DEVICE_BIND_FLAG_TOKEN`).
   * @throws IoctlError e.g. `EINVAL` when already bound (Linux 7.2 in the live test) or on a group-path device fd.
   */
  bindIommufd(iommufd: IommuFd, options: { token?: Uint8Array } = {}): number {
    const codec = vfio.vfio_device_bind_iommufd;
    if (options.token !== undefined && options.token.byteLength !== 16) throw new RangeError(`the VF token is a 16-byte UUID, not ${options.token.byteLength} bytes`);
    using token = options.token ? AnonymousMemory.allocate(16) : undefined;
    token?.bytes.set(options.token!);
    const { out_devid } = this.ioctlStruct('VFIO_DEVICE_BIND_IOMMUFD', codec, {
      argsz: codec.size, flags: token ? vfio.VFIO_DEVICE_BIND_FLAG_TOKEN : 0, iommufd: iommufd.fd, token_uuid_ptr: token?.address ?? 0n,
    });
    this.#devId = out_devid;
    return out_devid;
  }

  /**
   * `VFIO_DEVICE_ATTACH_IOMMUFD_PT`: attaches the (bound) device to an IOAS or
   * HWPT; attaching again replaces the page table. Returns the `pt_id` the
   * kernel reports: the IOAS id given, or the HWPT's (for an IOAS, the kernel
   * may have made or reused one).
   * @param options `pasid`: attach that PASID only (`VFIO_DEVICE_ATTACH_PASID`).
   */
  attachPt(pt: IommufdObjectRef, options: { pasid?: number } = {}): number {
    const codec = vfio.vfio_device_attach_iommufd_pt;
    return this.ioctlStruct('VFIO_DEVICE_ATTACH_IOMMUFD_PT', codec, {
      argsz: codec.size, flags: options.pasid === undefined ? 0 : vfio.VFIO_DEVICE_ATTACH_PASID, pt_id: idOf(pt), pasid: options.pasid ?? 0,
    }).pt_id;
  }

  /** `VFIO_DEVICE_DETACH_IOMMUFD_PT`: the device (or one PASID) blocks DMA until attached again. */
  detachPt(options: { pasid?: number } = {}): void {
    const codec = vfio.vfio_device_detach_iommufd_pt;
    this.ioctlStruct('VFIO_DEVICE_DETACH_IOMMUFD_PT', codec, {
      argsz: codec.size, flags: options.pasid === undefined ? 0 : vfio.VFIO_DEVICE_DETACH_PASID, pasid: options.pasid ?? 0,
    });
  }

  /** `VFIO_DEVICE_GET_INFO` through the argsz protocol, capabilities decoded. */
  info(): DeviceInfo {
    const codec = vfio.vfio_device_info;
    const { value, bytes } = this.ioctlInfo('VFIO_DEVICE_GET_INFO', codec);
    const hasCaps = (value.flags & vfio.VFIO_DEVICE_FLAGS_CAPS) !== 0;
    return {
      flags: value.flags,
      flagNames: vfio.vfio_device_info_flags.decode(value.flags),
      numRegions: value.num_regions,
      numIrqs: value.num_irqs,
      capabilities: decodeCapabilities('vfio_device_info', bytes, hasCaps ? value.cap_offset : 0, codec.size),
    };
  }

  /** `VFIO_DEVICE_GET_REGION_INFO` for `index` through the argsz protocol, capabilities decoded. */
  regionInfo(index: number): RegionInfo {
    const codec = vfio.vfio_region_info;
    const { value, bytes } = this.ioctlInfo('VFIO_DEVICE_GET_REGION_INFO', codec, { index });
    const hasCaps = (value.flags & vfio.VFIO_REGION_INFO_FLAG_CAPS) !== 0;
    const caps = decodeCapabilities('vfio_region_info', bytes, hasCaps ? value.cap_offset : 0, codec.size);
    const info: RegionInfo = {
      index,
      flags: value.flags,
      flagNames: vfio.vfio_region_info_flags.decode(value.flags),
      size: value.size,
      offset: value.offset,
      readable: (value.flags & vfio.VFIO_REGION_INFO_FLAG_READ) !== 0,
      writable: (value.flags & vfio.VFIO_REGION_INFO_FLAG_WRITE) !== 0,
      mappable: (value.flags & vfio.VFIO_REGION_INFO_FLAG_MMAP) !== 0,
      capabilities: caps,
      sparseMmap: caps.find((c) => c.name === 'VFIO_REGION_INFO_CAP_SPARSE_MMAP')?.elements as VfioRegionSparseMmapArea[] | undefined,
      type: capabilityValue(caps, 'VFIO_REGION_INFO_CAP_TYPE'),
      msixMappable: caps.some((c) => c.name === 'VFIO_REGION_INFO_CAP_MSIX_MAPPABLE'),
    };
    this.#regions.set(index, info);
    return info;
  }

  /** {@link Device.regionInfo} of every index below `numRegions`, leaving out those the driver rejects (`EINVAL`, e.g. VGA on a non-VGA device). */
  regions(): RegionInfo[] {
    return rejectingEinval(this.info().numRegions, (index) => this.regionInfo(index));
  }

  /** Reads `length` bytes at `offset` of region `index` (pread on the device fd). */
  read(index: number, offset: number, length: number): Uint8Array {
    const at = this.#check(index, offset, length, 'readable');
    const bytes = new Uint8Array(length);
    this.#transfer('pread', bytes, at);
    return bytes;
  }

  /** Writes `bytes` at `offset` of region `index` (pwrite on the device fd). */
  write(index: number, offset: number, bytes: Uint8Array): void {
    this.#transfer('pwrite', bytes, this.#check(index, offset, bytes.byteLength, 'writable'));
  }

  /** A little-endian byte at `offset` of region `index`. */
  read8(index: number, offset: number): number {
    return this.read(index, offset, 1)[0];
  }

  /** A little-endian 16-bit value. */
  read16(index: number, offset: number): number {
    return view(this.read(index, offset, 2)).getUint16(0, true);
  }

  /** A little-endian 32-bit value (one 4-byte access on an aligned offset). */
  read32(index: number, offset: number): number {
    return view(this.read(index, offset, 4)).getUint32(0, true);
  }

  /** A little-endian 64-bit value (the kernel may split it into two 32-bit accesses). */
  read64(index: number, offset: number): bigint {
    return view(this.read(index, offset, 8)).getBigUint64(0, true);
  }

  /** Writes a byte. */
  write8(index: number, offset: number, value: number): void {
    this.write(index, offset, Uint8Array.of(value));
  }

  /** Writes a little-endian 16-bit value. */
  write16(index: number, offset: number, value: number): void {
    const bytes = new Uint8Array(2);
    view(bytes).setUint16(0, value, true);
    this.write(index, offset, bytes);
  }

  /** Writes a little-endian 32-bit value. */
  write32(index: number, offset: number, value: number): void {
    const bytes = new Uint8Array(4);
    view(bytes).setUint32(0, value, true);
    this.write(index, offset, bytes);
  }

  /** Writes a little-endian 64-bit value. */
  write64(index: number, offset: number, value: bigint): void {
    const bytes = new Uint8Array(8);
    view(bytes).setBigUint64(0, value, true);
    this.write(index, offset, bytes);
  }

  /**
   * mmaps (part of) region `index`, which must have `VFIO_REGION_INFO_FLAG_MMAP`;
   * with a sparse-mmap capability the range must lie inside one of its areas.
   * @param range `offset` (page aligned, default 0) and `size` (default: to the end of the region or area).
   * @throws VfioError when the region or range may not be mapped; SyscallError (`mmap`).
   */
  mmap(index: number, range: { offset?: number; size?: number; writable?: boolean } = {}): MappedRegion {
    const region = this.#region(index);
    const offset = range.offset ?? 0;
    if (!region.mappable) throw new VfioError(`${this.label}: region ${index} cannot be mmapped (flags ${region.flagNames.join('|') || 0})`);
    if (offset % pageSize() !== 0) throw new RangeError(`mmap offset ${offset} is not page aligned`);
    const area = region.sparseMmap?.find((a) => BigInt(offset) >= a.offset && BigInt(offset) < a.offset + a.size);
    if (region.sparseMmap && !area) throw new VfioError(`${this.label}: offset ${offset} of region ${index} is outside its sparse mmap areas`);
    const end = area ? area.offset + area.size : region.size;
    const size = range.size ?? Number(end - BigInt(offset));
    if (size <= 0 || BigInt(offset + size) > end) throw new RangeError(`mmap of ${size} bytes at ${offset} exceeds region ${index} (or its area), ending at ${end}`);
    const writable = range.writable ?? region.writable;
    const prot = PROT_READ | (writable ? PROT_WRITE : 0);
    const pointer = libc().mmap(null, size, prot, MAP_SHARED, this.fd, region.offset + BigInt(offset));
    if (pointer === null || addressOf(pointer) === MAP_FAILED) {
      throw new SyscallError('mmap', errno(), `${this.label} region ${index} +${offset}, ${size} bytes`);
    }
    const mapping = new MappedRegion(pointer, size, index, offset, () => this.#mappings.delete(mapping));
    this.#mappings.add(mapping);
    return mapping;
  }

  /** `VFIO_DEVICE_GET_IRQ_INFO` for `index` (argsz protocol). */
  irqInfo(index: number): IrqInfo {
    const { value } = this.ioctlInfo('VFIO_DEVICE_GET_IRQ_INFO', vfio.vfio_irq_info, { index });
    return { index, flags: value.flags, flagNames: vfio.vfio_irq_info_flags.decode(value.flags), count: value.count };
  }

  /** {@link Device.irqInfo} of every index below `numIrqs`, leaving out those the driver rejects (`EINVAL`, e.g. the PCIe error IRQ of a conventional PCI device). */
  irqs(): IrqInfo[] {
    return rejectingEinval(this.info().numIrqs, (index) => this.irqInfo(index));
  }

  /** `VFIO_DEVICE_SET_IRQS`: attach eventfds, mask, unmask, or trigger interrupts. */
  setIrqs(set: IrqSet): void {
    const codec = vfio.vfio_irq_set;
    let data: Uint8Array | undefined;
    let count = set.count ?? 1;
    if (set.data === 'eventfd') {
      const fds = (set.eventfds ?? []).map((e) => (e === null ? -1 : typeof e === 'number' ? e : e.fd));
      count = set.count ?? fds.length;
      if (fds.length !== count) throw new RangeError(`setIrqs: ${fds.length} eventfds for ${count} vectors`);
      data = new Uint8Array(new Int32Array(fds).buffer);
    } else if (set.data === 'bool') {
      const bools = set.bools ?? [];
      count = set.count ?? bools.length;
      if (bools.length !== count) throw new RangeError(`setIrqs: ${bools.length} bools for ${count} vectors`);
      data = Uint8Array.from(bools, Number);
    }
    const dataFlag = { none: vfio.VFIO_IRQ_SET_DATA_NONE, bool: vfio.VFIO_IRQ_SET_DATA_BOOL, eventfd: vfio.VFIO_IRQ_SET_DATA_EVENTFD }[set.data];
    const actionFlag = { trigger: vfio.VFIO_IRQ_SET_ACTION_TRIGGER, mask: vfio.VFIO_IRQ_SET_ACTION_MASK, unmask: vfio.VFIO_IRQ_SET_ACTION_UNMASK }[set.action];
    this.ioctlPointer('VFIO_DEVICE_SET_IRQS', codec.encode({
      argsz: codec.argszFor(data?.byteLength ?? 0),
      flags: dataFlag | actionFlag,
      index: set.index,
      start: set.start ?? 0,
      count,
      data,
    }));
  }

  /** Disables interrupt `index` (`DATA_NONE | ACTION_TRIGGER`, count 0): detaches its eventfds. */
  disableIrqs(index: number): void {
    this.setIrqs({ index, start: 0, count: 0, action: 'trigger', data: 'none' });
  }

  /** `VFIO_DEVICE_RESET` (`EINVAL` when the device has no reset: see `VFIO_DEVICE_FLAGS_RESET`). */
  reset(): void {
    this.ioctlValue('VFIO_DEVICE_RESET');
  }

  /**
   * `VFIO_DEVICE_GET_PCI_HOT_RESET_INFO`: the devices a bus/slot reset would
   * affect. Sized like the kernel asks: it answers `ENOSPC` with `count` set
   * when the array does not fit (not the argsz protocol).
   * @throws IoctlError `ENODEV` when no bus or slot reset is possible.
   */
  pciHotResetInfo(): HotResetInfo {
    const codec = vfio.vfio_pci_hot_reset_info;
    const { request } = descriptor('VFIO_DEVICE_GET_PCI_HOT_RESET_INFO');
    let count = 0;
    for (let round = 0; round < 4; round++) {
      const bytes = new Uint8Array(codec.argszFor(count));
      codec.encodeInto(view(bytes), 0, { argsz: bytes.byteLength });
      const result = this.syscalls.ioctl(this.fd, request, bytes);
      const head = codec.decode(bytes);
      if (result === -ENOSPC && head.count > count) {
        count = head.count;
        continue;
      }
      this.checked('VFIO_DEVICE_GET_PCI_HOT_RESET_INFO', request, result);
      const devices = codec.decodeFlex(bytes, 0, head.count).map((d) => ({ ...d, bdf: bdf(d) }));
      return { flags: head.flags, flagNames: vfio.vfio_pci_hot_reset_info_flags.decode(head.flags), devices };
    }
    throw new VfioError(`${this.label}: VFIO_DEVICE_GET_PCI_HOT_RESET_INFO keeps asking for more room`);
  }

  /** `VFIO_DEVICE_PCI_HOT_RESET`, proving ownership of every affected group with its fd. */
  pciHotReset(groups: readonly Group[]): void {
    const codec = vfio.vfio_pci_hot_reset;
    const groupFds = groups.map((g) => g.fd);
    this.ioctlPointer('VFIO_DEVICE_PCI_HOT_RESET', codec.encode({
      argsz: codec.argszFor(groupFds.length), flags: 0, count: groupFds.length, group_fds: groupFds,
    }));
  }

  /**
   * Probes feature `id` (`VFIO_DEVICE_FEATURE_MIGRATION`, ...) with
   * `VFIO_DEVICE_FEATURE_PROBE`, alone and with GET and SET. Unknown features
   * (`ENOTTY`) and unsupported operations (`EINVAL`) count as unsupported.
   */
  probeFeature(id: number): FeatureSupport {
    const probe = (op: number): boolean => {
      try {
        this.#feature(vfio.VFIO_DEVICE_FEATURE_PROBE | op | id, 0);
        return true;
      } catch (error) {
        if (error instanceof SyscallError && (error.code === 'ENOTTY' || error.code === 'EINVAL')) return false;
        throw error;
      }
    };
    const supported = probe(0);
    return { supported, get: supported && probe(vfio.VFIO_DEVICE_FEATURE_GET), set: supported && probe(vfio.VFIO_DEVICE_FEATURE_SET) };
  }

  /** `VFIO_DEVICE_FEATURE` GET of feature `id`: its `size` bytes of data. */
  getFeature(id: number, size: number): Uint8Array {
    return this.#feature(vfio.VFIO_DEVICE_FEATURE_GET | id, size);
  }

  /**
   * `VFIO_DEVICE_FEATURE` SET of feature `id` with `data` (e.g. a feature
   * struct's codec output); returns the data as the kernel left it (SET of
   * `MIG_DEVICE_STATE` writes `data_fd` back).
   */
  setFeature(id: number, data: Uint8Array = new Uint8Array(0)): Uint8Array {
    return this.#feature(vfio.VFIO_DEVICE_FEATURE_SET | id, data.byteLength, data);
  }

  /**
   * GET of `VFIO_DEVICE_FEATURE_MIGRATION`: which optional states the driver
   * migrates through.
   * @throws IoctlError `ENOTTY` when the device does not support migration.
   */
  migrationInfo(): MigrationInfo {
    const codec = vfio.vfio_device_feature_migration;
    const { flags } = codec.decode(this.getFeature(vfio.VFIO_DEVICE_FEATURE_MIGRATION, codec.size));
    const has = (bit: number) => (flags & BigInt(bit)) !== 0n;
    return {
      flags,
      flagNames: bitNames(MIGRATION_FLAGS.map((n) => [n, vfio[n]]), flags),
      stopCopy: has(vfio.VFIO_MIGRATION_STOP_COPY), p2p: has(vfio.VFIO_MIGRATION_P2P), preCopy: has(vfio.VFIO_MIGRATION_PRE_COPY),
    };
  }

  /** GET of `VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE`: the device's migration state. */
  migrationState(): MigrationStateName {
    const codec = vfio.vfio_device_feature_mig_state;
    const { device_state } = codec.decode(this.getFeature(vfio.VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE, codec.size));
    return this.#stateName(device_state);
  }

  /**
   * SET of `VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE`: moves the device to `state`
   * (the kernel walks combination arcs itself). When the transition starts a
   * data session the new fd is returned as a {@link MigrationData} that owns it;
   * moving within the saving group (PRE_COPY → STOP_COPY) keeps the session's
   * fd and returns none.
   * @throws IoctlError `EINVAL` for a transition the FSM does not allow (STOP_COPY → PRE_COPY, to ERROR, to an
   *   optional state the device lacks); the device may then be in a state along the path (see vfio.h).
   */
  setMigrationState(state: MigrationStateName): MigrationTransition {
    const codec = vfio.vfio_device_feature_mig_state;
    const reply = codec.decode(this.setFeature(vfio.VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE, codec.encode({ device_state: migrationStateValue(state), data_fd: -1 })));
    const data = reply.data_fd >= 0 ? new MigrationData(new OwnedFd(reply.data_fd, `migration data of ${this.label}`), this.syscalls) : undefined;
    return { state: this.#stateName(reply.device_state), data };
  }

  /** GET of `VFIO_DEVICE_FEATURE_MIG_DATA_SIZE`: the estimated bytes STOP_COPY will still produce. */
  migrationDataSize(): bigint {
    const codec = vfio.vfio_device_feature_mig_data_size;
    return codec.decode(this.getFeature(vfio.VFIO_DEVICE_FEATURE_MIG_DATA_SIZE, codec.size)).stop_copy_length;
  }

  #stateName(value: number): MigrationStateName {
    const name = migrationStateName(value);
    if (name === undefined) throw new VfioError(`${this.label}: unknown migration state ${value}`);
    return name;
  }

  #feature(flags: number, size: number, data?: Uint8Array): Uint8Array {
    const codec = vfio.vfio_device_feature;
    const bytes = codec.encode({ argsz: codec.argszFor(size), flags, data: data ?? new Uint8Array(size) });
    this.ioctlPointer('VFIO_DEVICE_FEATURE', bytes);
    return codec.decodeFlex(bytes, 0, size);
  }

  /**
   * `VFIO_DEVICE_IOEVENTFD`: when `eventfd` is signalled the kernel writes
   * `data` (`size` bytes) at `offset` of region `index` without a round trip
   * through userspace; `eventfd: null` removes it.
   */
  ioeventfd(spec: Ioeventfd): void {
    const region = this.#region(spec.index);
    const sizeFlag = { 1: vfio.VFIO_DEVICE_IOEVENTFD_8, 2: vfio.VFIO_DEVICE_IOEVENTFD_16, 4: vfio.VFIO_DEVICE_IOEVENTFD_32, 8: vfio.VFIO_DEVICE_IOEVENTFD_64 }[spec.size];
    const codec = vfio.vfio_device_ioeventfd;
    const fd = spec.eventfd === null ? -1 : typeof spec.eventfd === 'number' ? spec.eventfd : spec.eventfd.fd;
    this.ioctlPointer('VFIO_DEVICE_IOEVENTFD', codec.encode({
      argsz: codec.size, flags: sizeFlag, offset: region.offset + BigInt(spec.offset), data: BigInt(spec.data), fd,
    }));
  }

  /** Unmaps the regions mapped with {@link Device.mmap}, then closes the fd. */
  override close(): void {
    try {
      for (const mapping of [...this.#mappings]) mapping.unmap();
    } finally {
      super.close();
    }
  }

  #region(index: number): RegionInfo {
    return this.#regions.get(index) ?? this.regionInfo(index);
  }

  /** The fd offset of [offset, offset + length) in region `index`, checked. */
  #check(index: number, offset: number, length: number, access: 'readable' | 'writable'): bigint {
    const region = this.#region(index);
    if (!region[access]) throw new VfioError(`${this.label}: region ${index} is not ${access}`);
    if (!Number.isSafeInteger(offset) || offset < 0 || BigInt(offset + length) > region.size) {
      throw new RangeError(`${this.label}: ${length} bytes at ${offset} exceed region ${index} (${region.size} bytes)`);
    }
    return region.offset + BigInt(offset);
  }

  #transfer(call: 'pread' | 'pwrite', bytes: Uint8Array, at: bigint): void {
    for (let done = 0; done < bytes.byteLength; ) {
      const n = libc()[call](this.fd, bytes.subarray(done), bytes.byteLength - done, at + BigInt(done));
      if (n < 0) throw new SyscallError(call, errno(), `${this.label} at 0x${(at + BigInt(done)).toString(16)}`);
      if (n === 0) throw new VfioError(`${this.label}: ${call} at 0x${(at + BigInt(done)).toString(16)} made no progress`);
      done += n;
    }
  }
}

/**
 * A region mapped into the process ({@link Device.mmap}). Register accessors
 * make one access of their width (typed arrays, not DataView, which may read
 * byte by byte) and convert from PCI's little-endian byte order.
 *
 * As with `AnonymousMemory`, views taken from {@link MappedRegion.buffer} must
 * not be used after {@link MappedRegion.unmap}.
 */
export class MappedRegion implements Disposable {
  /** Length in bytes. */
  readonly size: number;
  /** Index of the region it maps. */
  readonly index: number;
  /** Offset in that region of its first byte. */
  readonly offset: number;
  /** Virtual address of the mapping. */
  readonly address: bigint;
  #pointer: NativePointer;
  #buffer: ArrayBuffer | undefined;
  readonly #onUnmap: () => void;

  /** @internal made by {@link Device.mmap}. */
  constructor(pointer: NativePointer, size: number, index: number, offset: number, onUnmap: () => void) {
    this.#pointer = pointer;
    this.size = size;
    this.index = index;
    this.offset = offset;
    this.address = addressOf(pointer);
    this.#buffer = nativeView(pointer, size);
    this.#onUnmap = onUnmap;
  }

  /** The mapping as an ArrayBuffer (no copy). Throws once unmapped. */
  get buffer(): ArrayBuffer {
    if (this.#buffer === undefined) throw new VfioError(`mapping of region ${this.index} was unmapped`);
    return this.#buffer;
  }

  /** Whether {@link MappedRegion.unmap} was called. */
  get unmapped(): boolean {
    return this.#buffer === undefined;
  }

  /** A byte. */
  read8(offset: number): number {
    return new Uint8Array(this.buffer, offset, 1)[0];
  }

  /** A little-endian 16-bit register. */
  read16(offset: number): number {
    const v = new Uint16Array(this.buffer, offset, 1)[0];
    return hostLittleEndian ? v : ((v & 0xff) << 8) | (v >> 8);
  }

  /** A little-endian 32-bit register. */
  read32(offset: number): number {
    const v = new Uint32Array(this.buffer, offset, 1)[0];
    return hostLittleEndian ? v : swap32(v);
  }

  /** A little-endian 64-bit register. */
  read64(offset: number): bigint {
    const v = new BigUint64Array(this.buffer, offset, 1)[0];
    return hostLittleEndian ? v : swap64(v);
  }

  /** Writes a byte. */
  write8(offset: number, value: number): void {
    new Uint8Array(this.buffer, offset, 1)[0] = value;
  }

  /** Writes a little-endian 16-bit register. */
  write16(offset: number, value: number): void {
    new Uint16Array(this.buffer, offset, 1)[0] = hostLittleEndian ? value : ((value & 0xff) << 8) | ((value >> 8) & 0xff);
  }

  /** Writes a little-endian 32-bit register. */
  write32(offset: number, value: number): void {
    new Uint32Array(this.buffer, offset, 1)[0] = hostLittleEndian ? value : swap32(value);
  }

  /** Writes a little-endian 64-bit register. */
  write64(offset: number, value: bigint): void {
    new BigUint64Array(this.buffer, offset, 1)[0] = hostLittleEndian ? value : swap64(value);
  }

  /** munmap; later calls do nothing. */
  unmap(): void {
    const buffer = this.#buffer;
    if (buffer === undefined) return;
    this.#buffer = undefined;
    this.#onUnmap();
    // The BAR is released now; views kept from before read zeros instead of faulting (see retireMapping).
    retireMapping(this.#pointer, this.size, buffer, `region ${this.index}`);
    this.#pointer = null;
  }

  /** {@link MappedRegion.unmap}. */
  [Symbol.dispose](): void {
    this.unmap();
  }
}

/**
 * The cdev of a device bound to a VFIO driver: `/dev/vfio/devices/vfioN`, from
 * `<sysfs device>/vfio-dev/vfioN`. `device` is a PCI address
 * (`/sys/bus/pci/devices/<bdf>`), an mdev UUID (`/sys/bus/mdev/devices/<uuid>`)
 * or a sysfs device directory.
 * @throws VfioError when the device has no `vfio-dev` entry (not bound to a VFIO driver, or no `CONFIG_VFIO_DEVICE_CDEV`).
 */
export function vfioCdevPath(device: string, sysfs = '/sys'): string {
  const dirs = device.includes('/') ? [device] : [`${sysfs}/bus/pci/devices/${device}`, `${sysfs}/bus/mdev/devices/${device}`];
  for (const dir of dirs) {
    const entries = existsSync(`${dir}/vfio-dev`) ? readdirSync(`${dir}/vfio-dev`).filter((e) => /^vfio\d+$/.test(e)) : [];
    if (entries.length > 0) return `/dev/vfio/devices/${entries[0]}`;
  }
  throw new VfioError(`${device}: no vfio-dev entry in ${dirs.join(' or ')} (is it bound to a VFIO driver, and the kernel built with CONFIG_VFIO_DEVICE_CDEV?)`);
}

/** `get(i)` for i in [0, n), leaving out the indices that fail with `EINVAL`. */
function rejectingEinval<T>(n: number, get: (index: number) => T): T[] {
  const out: T[] = [];
  for (let index = 0; index < n; index++) {
    try {
      out.push(get(index));
    } catch (error) {
      if (!(error instanceof SyscallError && error.code === 'EINVAL')) throw error;
    }
  }
  return out;
}

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function swap32(v: number): number {
  return (((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24)) >>> 0;
}

function swap64(v: bigint): bigint {
  const d = new DataView(new ArrayBuffer(8));
  d.setBigUint64(0, v, true);
  return d.getBigUint64(0, false);
}

function bdf(d: VfioPciDependentDevice): string {
  const hex = (n: number, w: number) => n.toString(16).padStart(w, '0');
  return `${hex(d.segment, 4)}:${hex(d.bus, 2)}:${hex(d.devfn >> 3, 2)}.${d.devfn & 7}`;
}
