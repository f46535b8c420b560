/**
 * iommufd (`/dev/iommu`): the IOMMU context of the VFIO cdev path. Objects
 * inside it (IO address spaces, hardware page tables) are numbered by the
 * kernel; {@link Ioas} and {@link HwPagetable} own one id each and destroy it
 * (`IOMMU_DESTROY`) when closed, as {@link IommuFd} owns its fd.
 *
 * Every command takes a struct whose first `__u32` is its `size`
 * (`sizeof` the struct as this ABI's generated codec knows it): the kernel
 * accepts a larger struct if the extra bytes are zero (`E2BIG` otherwise) and
 * rejects a smaller one (`EINVAL`), see "General ioctl format" in iommufd.h.
 */

import * as iommufd from '../../generated/iommufd/index.js';
import type { IommuIovaRange } from '../../generated/iommufd/index.js';
import type { Codec } from '../codec/codec.js';
import { SyscallError, VfioError } from './errors.js';
import { OwnedFd } from './fd.js';
import { MFD_CLOEXEC, check, errno, libc } from './libc.js';
import { readBitmap } from './bitmap.js';
import { AnonymousMemory } from './memory.js';
import { VfioFd, descriptor, initOrClose, openVfioPath, type IoctlName, type VfioSyscalls } from './vfio-fd.js';

/** Options of {@link IommuFd.open}. */
export interface IommuFdOptions extends VfioSyscalls {
  /** The iommufd device (default `/dev/iommu`). */
  readonly path?: string;
}

/** Anything that names an iommufd object: its id, or an object that has one ({@link Ioas}, {@link HwPagetable}). */
export type IommufdObjectRef = number | { readonly id: number };

/** What {@link Ioas.iovaRanges} returns. */
export interface IovaRanges {
  /** The IOVA ranges a mapping may use (inclusive `last`). */
  readonly ranges: readonly IommuIovaRange[];
  /** `out_iova_alignment`: IOVA and length of a mapping must be multiples of it. */
  readonly alignment: bigint;
  /** How many `IOMMU_IOAS_IOVA_RANGES` calls it took (2 when the first, sized 0, was answered `EMSGSIZE`). */
  readonly rounds: number;
}

/** A mapping for {@link Ioas.map}. */
export interface IoasMapping {
  /** Process virtual address of the memory (e.g. `AnonymousMemory.address`). */
  readonly userVa: bigint;
  /** Length in bytes (a multiple of the IOVA alignment). */
  readonly length: bigint | number;
  /** Where to map it (`IOMMU_IOAS_MAP_FIXED_IOVA`); absent: the kernel picks an IOVA and returns it. */
  readonly iova?: bigint;
  /** `IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE` by default (FIXED_IOVA is added when `iova` is given). */
  readonly flags?: number;
}

/** A mapping of a file (memfd) for {@link Ioas.mapFile}. */
export interface IoasFileMapping {
  /** The file (a memfd): an fd number or an object owning one. */
  readonly fd: number | { readonly fd: number };
  /** Byte offset in the file (default 0). */
  readonly start?: bigint | number;
  /** Length in bytes. */
  readonly length: bigint | number;
  /** As for {@link IoasMapping.iova}. */
  readonly iova?: bigint;
  /** As for {@link IoasMapping.flags}. */
  readonly flags?: number;
}

/** What {@link Ioas.copy} copies: an existing mapping of another (or the same) IOAS. */
export interface IoasCopy {
  /** The IOAS to copy from. */
  readonly src: IommufdObjectRef;
  /** Start of the source mapping (it must match a range given to map exactly). */
  readonly srcIova: bigint;
  /** Its length. */
  readonly length: bigint | number;
  /** Where to place the copy in this IOAS; absent: the kernel picks. */
  readonly dstIova?: bigint;
  /** As for {@link IoasMapping.flags}. */
  readonly flags?: number;
}

/** What {@link HwPagetable.dirtyBitmap} returns. */
export interface HwptDirtyBitmap {
  /** Start of the range asked about. */
  readonly iova: bigint;
  /** Its length in bytes. */
  readonly length: bigint;
  /** The page size each bit stands for. */
  readonly pageSize: bigint;
  /** The bitmap as the kernel wrote it: page `i` is bit `i % 64` of word `floor(i / 64)`. */
  readonly words: BigUint64Array;
  /** How many pages are dirty. */
  readonly dirtyPages: number;
}

/** What {@link IommuFd.allocHwpt} needs. */
export interface HwptAlloc {
  /** The device it is for (the dev id `Device.bindIommufd` returned). */
  readonly devId: number;
  /** The IOAS (or parent HWPT, or vIOMMU) it translates through. */
  readonly pt: IommufdObjectRef;
  /** `IOMMU_HWPT_ALLOC_*` (`NEST_PARENT`, `DIRTY_TRACKING`, ...). */
  readonly flags?: number;
  /** `IOMMU_HWPT_DATA_*` for a user-managed (nested) HWPT; default `IOMMU_HWPT_DATA_NONE`. */
  readonly dataType?: number;
  /** The type-specific data (e.g. `iommu_hwpt_vtd_s1.encode(...)`). */
  readonly data?: Uint8Array;
  /** An IOMMUFD_FAULT object (sets `IOMMU_HWPT_FAULT_ID_VALID`). */
  readonly faultId?: number;
}

/** What {@link IommuFd.hwInfo} returns: `struct iommu_hw_info`. */
export interface HwInfo {
  /** `IOMMU_HW_INFO_TYPE_*` of `data`. */
  readonly dataType: number;
  /** Its name (`IOMMU_HW_INFO_TYPE_INTEL_VTD`), or `undefined` for a type this header does not know. */
  readonly dataTypeName: string | undefined;
  /** How many bytes of type-specific data the kernel has (it copied at most the buffer's size). */
  readonly dataLen: number;
  /** The type-specific data, as many bytes as both the buffer and the kernel had. */
  readonly data: Uint8Array;
  /** `IOMMU_HW_CAP_*`. */
  readonly capabilities: bigint;
  /** `capabilities` decoded. */
  readonly capabilityNames: readonly string[];
  /** PASID width, 0 for none. */
  readonly maxPasidLog2: number;
  /** `data` decoded, for Intel VT-d. */
  readonly vtd?: ReturnType<typeof iommufd.iommu_hw_info_vtd.decode>;
}

const EMSGSIZE = 90;
const MAX_IOVA_RANGE_ROUNDS = 4;
const U64_MAX = 0xffff_ffff_ffff_ffffn;

/** `enum iommu_hw_info_type` (NONE and DEFAULT are both 0: named NONE, what the kernel outputs); values from the bindings. */
const HW_INFO_TYPES = ['IOMMU_HW_INFO_TYPE_NONE', 'IOMMU_HW_INFO_TYPE_INTEL_VTD', 'IOMMU_HW_INFO_TYPE_ARM_SMMUV3', 'IOMMU_HW_INFO_TYPE_TEGRA241_CMDQV', 'IOMMU_HW_INFO_TYPE_AMD'] as const;
/** `enum iommufd_hw_capabilities`; bit values from the bindings. */
const HW_CAPS = ['IOMMU_HW_CAP_DIRTY_TRACKING', 'IOMMU_HW_CAP_PCI_PASID_EXEC', 'IOMMU_HW_CAP_PCI_PASID_PRIV', 'IOMMU_HW_CAP_PCI_ATS_NOT_SUPPORTED'] as const;

/**
 * An iommufd (`/dev/iommu`). Allocate address spaces with
 * {@link IommuFd.allocIoas}, bind device cdevs to it (`Device.bindIommufd`),
 * attach them to an {@link Ioas} or {@link HwPagetable} (`Device.attachPt`).
 * Closing it destroys every object in it.
 */
export class IommuFd extends VfioFd {
  /** Always `'iommufd'`. */
  readonly kind = 'iommufd' as const;

  private constructor(fd: OwnedFd, syscalls: VfioSyscalls) {
    super(fd, syscalls);
  }

  /**
   * Opens `/dev/iommu` and checks it answers `IOMMU_OPTION` (GET of the
   * global `RLIMIT_MODE`, which needs no privilege).
   * @throws SyscallError (`open`): `ENOENT` when the kernel has no `CONFIG_IOMMUFD`.
   * @throws IoctlError `ENOTTY` when the path is not an iommufd. The fd is closed on every failure.
   */
  static open(options: IommuFdOptions = {}): IommuFd {
    const path = options.path ?? '/dev/iommu';
    return IommuFd.fromFd(openVfioPath(path, 'iommufd'), options);
  }

  /** Takes ownership of an open iommufd (closed if the `IOMMU_OPTION` check fails). */
  static fromFd(fd: OwnedFd, syscalls: VfioSyscalls = {}): IommuFd {
    return initOrClose(new IommuFd(fd, syscalls), (ictx) => ictx.getOption(iommufd.IOMMU_OPTION_RLIMIT_MODE));
  }

  /**
   * Issues iommufd command `name` with `value` encoded by `codec` (its `size`
   * set to `codec.size`) and returns the struct the kernel wrote back. The
   * building block of the objects here, and the way to reach commands they
   * do not wrap (`IOMMU_VIOMMU_ALLOC`, `IOMMU_FAULT_QUEUE_ALLOC`, ...).
   * @throws IoctlError naming the command.
   */
  command<T>(name: IoctlName, codec: Codec<T>, value: Partial<T>): T {
    return this.ioctlStruct(name, codec, { ...value, size: codec.size } as Partial<T>);
  }

  /**
   * {@link IommuFd.command}, except that a failure with an errno in `tolerate`
   * is returned (`errno`, 0 on success) with the struct as the kernel left it,
   * for commands that report through a failing reply (`EMSGSIZE` with the room
   * needed).
   */
  commandTolerating<T>(name: IoctlName, codec: Codec<T>, value: Partial<T>, tolerate: readonly number[]): { value: T; errno: number } {
    const bytes = codec.encode({ ...value, size: codec.size } as Partial<T>);
    const { request } = descriptor(name);
    const result = this.syscalls.ioctl(this.fd, request, bytes);
    if (result < 0 && tolerate.includes(-result)) return { value: codec.decode(bytes), errno: -result };
    this.checked(name, request, result);
    return { value: codec.decode(bytes), errno: 0 };
  }

  /** `IOMMU_DESTROY` of object `id` (an IOAS, HWPT, ...). */
  destroy(id: IommufdObjectRef): void {
    this.command('IOMMU_DESTROY', iommufd.iommu_destroy, { id: idOf(id) });
  }

  /** `IOMMU_IOAS_ALLOC`: a new, empty IO address space, owned by the returned {@link Ioas}. */
  allocIoas(): Ioas {
    const { out_ioas_id } = this.command('IOMMU_IOAS_ALLOC', iommufd.iommu_ioas_alloc, { flags: 0 });
    return new Ioas(this, out_ioas_id);
  }

  /**
   * `IOMMU_HWPT_ALLOC`: a hardware page table for device `devId` on `pt`,
   * owned by the returned {@link HwPagetable}.
   * @throws IoctlError e.g. `EOPNOTSUPP` for `IOMMU_HWPT_ALLOC_DIRTY_TRACKING` on an IOMMU without it.
   */
  allocHwpt(alloc: HwptAlloc): HwPagetable {
    const data = alloc.data;
    using memory = data && data.byteLength > 0 ? copyToMemory(data) : undefined;
    const flags = (alloc.flags ?? 0) | (alloc.faultId !== undefined ? iommufd.IOMMU_HWPT_FAULT_ID_VALID : 0);
    const { out_hwpt_id } = this.command('IOMMU_HWPT_ALLOC', iommufd.iommu_hwpt_alloc, {
      flags, dev_id: alloc.devId, pt_id: idOf(alloc.pt),
      data_type: alloc.dataType ?? iommufd.IOMMU_HWPT_DATA_NONE,
      data_len: data?.byteLength ?? 0, data_uptr: memory?.address ?? 0n, fault_id: alloc.faultId ?? 0,
    });
    return new HwPagetable(this, out_hwpt_id);
  }

  /**
   * `IOMMU_GET_HW_INFO` for bound device `devId`: the IOMMU's type, generic
   * capabilities and type-specific data (decoded for VT-d).
   * @param options `dataLen`: bytes of room for the data (default 256); `type`: request a specific
   *   `IOMMU_HW_INFO_TYPE_*` (`IOMMU_HW_INFO_FLAG_INPUT_TYPE`).
   */
  hwInfo(devId: number, options: { dataLen?: number; type?: number } = {}): HwInfo {
    const room = options.dataLen ?? 256;
    using memory = room > 0 ? AnonymousMemory.allocate(room) : undefined;
    const info = this.command('IOMMU_GET_HW_INFO', iommufd.iommu_hw_info, {
      flags: options.type === undefined ? 0 : iommufd.IOMMU_HW_INFO_FLAG_INPUT_TYPE,
      dev_id: devId, data_len: room, data_uptr: memory?.address ?? 0n, in_data_type: options.type ?? 0,
    });
    const data = memory ? memory.bytes.slice(0, Math.min(room, info.data_len)) : new Uint8Array(0);
    const dataType = info.out_data_type ?? 0;
    const vtd = dataType === iommufd.IOMMU_HW_INFO_TYPE_INTEL_VTD && data.byteLength >= iommufd.iommu_hw_info_vtd.size
      ? iommufd.iommu_hw_info_vtd.decode(data) : undefined;
    return {
      dataType, dataTypeName: HW_INFO_TYPES.find((n) => iommufd[n] === dataType), dataLen: info.data_len, data,
      capabilities: info.out_capabilities, capabilityNames: bitNames(HW_CAPS.map((n) => [n, iommufd[n]]), info.out_capabilities),
      maxPasidLog2: info.out_max_pasid_log2, vtd,
    };
  }

  /** `IOMMU_OPTION` GET of `option` (`IOMMU_OPTION_RLIMIT_MODE`: global, object 0; `IOMMU_OPTION_HUGE_PAGES`: per IOAS). */
  getOption(option: number, object: IommufdObjectRef = 0): bigint {
    return this.command('IOMMU_OPTION', iommufd.iommu_option, { option_id: option, op: iommufd.IOMMU_OPTION_OP_GET, object_id: idOf(object) }).val64;
  }

  /** `IOMMU_OPTION` SET (`RLIMIT_MODE` needs `CAP_SYS_RESOURCE`: `EPERM` otherwise). */
  setOption(option: number, value: bigint | number, object: IommufdObjectRef = 0): void {
    this.command('IOMMU_OPTION', iommufd.iommu_option, { option_id: option, op: iommufd.IOMMU_OPTION_OP_SET, object_id: idOf(object), val64: BigInt(value) });
  }

  /**
   * `IOMMU_VFIO_IOAS`: the IOAS the VFIO compatibility layer (an iommufd used
   * as a container) works in. `get` returns its id (`ENODEV` when none is set, on Linux 7.2);
   * `set` makes `ioas` it; `clear` disables compatibility.
   */
  vfioIoas(op: 'get' | 'set' | 'clear', ioas: IommufdObjectRef = 0): number {
    const code = { get: iommufd.IOMMU_VFIO_IOAS_GET, set: iommufd.IOMMU_VFIO_IOAS_SET, clear: iommufd.IOMMU_VFIO_IOAS_CLEAR }[op];
    return this.command('IOMMU_VFIO_IOAS', iommufd.iommu_vfio_ioas, { op: code, ioas_id: idOf(ioas) }).ioas_id;
  }
}

/**
 * An object inside an {@link IommuFd}, owning its id: {@link IommufdObject.destroy}
 * (or `using`) issues `IOMMU_DESTROY` once. After the iommufd itself was closed
 * (which destroyed everything in it) destroy does nothing.
 */
export abstract class IommufdObject implements Disposable {
  /** The iommufd it lives in. */
  readonly iommufd: IommuFd;
  readonly #id: number;
  #destroyed = false;

  /** @internal made by {@link IommuFd}. */
  constructor(ictx: IommuFd, id: number) {
    this.iommufd = ictx;
    this.#id = id;
  }

  /** The kernel's id of the object. Throws once destroyed. */
  get id(): number {
    if (this.#destroyed) throw new VfioError(`iommufd object ${this.#id} was destroyed`);
    return this.#id;
  }

  /** Whether {@link IommufdObject.destroy} was called. */
  get destroyed(): boolean {
    return this.#destroyed;
  }

  /**
   * `IOMMU_DESTROY`; later calls do nothing. `EBUSY` (still attached to a
   * device, or in use by another object) is thrown and the object stays alive.
   */
  destroy(): void {
    if (this.#destroyed) return;
    if (!this.iommufd.closed) this.iommufd.destroy(this.#id);
    this.#destroyed = true;
  }

  /** {@link IommufdObject.destroy}. */
  [Symbol.dispose](): void {
    this.destroy();
  }
}

/**
 * An IO address space (`IOMMU_IOAS_ALLOC`): the IOVA → memory mappings that
 * attached devices (and HWPTs made from it) translate through.
 */
export class Ioas extends IommufdObject {
  /**
   * `IOMMU_IOAS_IOVA_RANGES`, argsz-style: asked first with room for no
   * range; the kernel answers `EMSGSIZE` with `num_iovas` set to how many it
   * has, and the call is repeated with that much room (the ranges narrow as
   * devices attach; ask again after each attach/detach).
   */
  iovaRanges(): IovaRanges {
    const codec = iommufd.iommu_ioas_iova_ranges;
    let room = 0;
    for (let round = 1; round <= MAX_IOVA_RANGE_ROUNDS; round++) {
      using memory = room > 0 ? AnonymousMemory.allocate(room * iommufd.iommu_iova_range.size) : undefined;
      const { value: reply, errno } = this.iommufd.commandTolerating('IOMMU_IOAS_IOVA_RANGES', codec,
        { ioas_id: this.id, num_iovas: room, allowed_iovas: memory?.address ?? 0n }, [EMSGSIZE]);
      if (errno === EMSGSIZE) {
        room = reply.num_iovas;
        continue;
      }
      const ranges = memory ? decodeRanges(memory.bytes, reply.num_iovas) : [];
      return { ranges, alignment: reply.out_iova_alignment, rounds: round };
    }
    throw new VfioError(`IOAS ${this.id}: IOMMU_IOAS_IOVA_RANGES keeps asking for more room`);
  }

  /**
   * `IOMMU_IOAS_ALLOW_IOVAS`: replaces the IOAS's list of IOVA ranges that must
   * stay usable (attaching a device that would narrow them fails); `[]` clears it.
   */
  allowIovas(ranges: readonly { start: bigint; last: bigint }[]): void {
    using memory = ranges.length > 0 ? AnonymousMemory.allocate(ranges.length * iommufd.iommu_iova_range.size) : undefined;
    if (memory) {
      const view = new DataView(memory.buffer);
      ranges.forEach((r, i) => iommufd.iommu_iova_range.encodeInto(view, i * iommufd.iommu_iova_range.size, r));
    }
    this.iommufd.command('IOMMU_IOAS_ALLOW_IOVAS', iommufd.iommu_ioas_allow_iovas, {
      ioas_id: this.id, num_iovas: ranges.length, allowed_iovas: memory?.address ?? 0n,
    });
  }

  /** `IOMMU_IOAS_MAP`: maps process memory; returns the IOVA (the one given, or the kernel's choice). */
  map(mapping: IoasMapping): bigint {
    return this.iommufd.command('IOMMU_IOAS_MAP', iommufd.iommu_ioas_map, {
      flags: mapFlags(mapping.flags, mapping.iova), ioas_id: this.id,
      user_va: mapping.userVa, length: BigInt(mapping.length), iova: mapping.iova ?? 0n,
    }).iova;
  }

  /** `IOMMU_IOAS_MAP_FILE`: maps `length` bytes of a memfd from `start`; returns the IOVA. */
  mapFile(mapping: IoasFileMapping): bigint {
    return this.iommufd.command('IOMMU_IOAS_MAP_FILE', iommufd.iommu_ioas_map_file, {
      flags: mapFlags(mapping.flags, mapping.iova), ioas_id: this.id,
      fd: typeof mapping.fd === 'number' ? mapping.fd : mapping.fd.fd,
      start: BigInt(mapping.start ?? 0), length: BigInt(mapping.length), iova: mapping.iova ?? 0n,
    }).iova;
  }

  /** `IOMMU_IOAS_COPY` into this IOAS of a mapping of `copy.src`; returns the IOVA of the copy. */
  copy(copy: IoasCopy): bigint {
    return this.iommufd.command('IOMMU_IOAS_COPY', iommufd.iommu_ioas_copy, {
      flags: mapFlags(copy.flags, copy.dstIova), dst_ioas_id: this.id, src_ioas_id: idOf(copy.src),
      length: BigInt(copy.length), dst_iova: copy.dstIova ?? 0n, src_iova: copy.srcIova,
    }).dst_iova;
  }

  /**
   * `IOMMU_IOAS_UNMAP` of a range covering whole mappings (no splitting), or
   * of everything (`all`: 0 to U64_MAX); returns the bytes unmapped.
   * @throws IoctlError `ENOENT` when nothing is mapped there.
   */
  unmap(range: { iova: bigint; length: bigint | number } | { all: true }): bigint {
    const [iova, length] = 'all' in range ? [0n, U64_MAX] : [range.iova, BigInt(range.length)];
    return this.iommufd.command('IOMMU_IOAS_UNMAP', iommufd.iommu_ioas_unmap, { ioas_id: this.id, iova, length }).length;
  }

  /** `IOMMU_OPTION_HUGE_PAGES` of this IOAS (1: contiguous pages combined, the default; 0: everything PAGE_SIZE). */
  hugePages(value?: boolean): boolean {
    if (value !== undefined) this.iommufd.setOption(iommufd.IOMMU_OPTION_HUGE_PAGES, value ? 1 : 0, this);
    return this.iommufd.getOption(iommufd.IOMMU_OPTION_HUGE_PAGES, this) !== 0n;
  }
}

/**
 * A hardware page table (`IOMMU_HWPT_ALLOC`): an IOMMU domain a device can be
 * attached to directly, with dirty tracking where the IOMMU has it.
 */
export class HwPagetable extends IommufdObject {
  /** `IOMMU_HWPT_SET_DIRTY_TRACKING`: starts (or stops) recording which IOVAs the devices write. */
  setDirtyTracking(enable: boolean): void {
    this.iommufd.command('IOMMU_HWPT_SET_DIRTY_TRACKING', iommufd.iommu_hwpt_set_dirty_tracking, {
      flags: enable ? iommufd.IOMMU_HWPT_DIRTY_TRACKING_ENABLE : 0, hwpt_id: this.id,
    });
  }

  /**
   * `IOMMU_HWPT_GET_DIRTY_BITMAP` of [`iova`, `iova + length`): the kernel
   * writes one bit per `pageSize` page into anonymous memory allocated here,
   * copied out and freed. By default the dirty bits are cleared as they are
   * read; `noClear` leaves them (`IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR`).
   */
  dirtyBitmap(range: { iova: bigint; length: bigint | number; pageSize: bigint | number; noClear?: boolean }): HwptDirtyBitmap {
    const length = BigInt(range.length);
    const pageSize = BigInt(range.pageSize);
    const pages = (length + pageSize - 1n) / pageSize;
    const words = Number((pages + 63n) / 64n);
    using memory = AnonymousMemory.allocate(words * 8);
    this.iommufd.command('IOMMU_HWPT_GET_DIRTY_BITMAP', iommufd.iommu_hwpt_get_dirty_bitmap, {
      hwpt_id: this.id, flags: range.noClear ? iommufd.IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR : 0,
      iova: range.iova, length, page_size: pageSize, data: memory.address,
    });
    return { iova: range.iova, length, pageSize, ...readBitmap(memory, words) };
  }

  /**
   * `IOMMU_HWPT_INVALIDATE` of a user-managed (nested) HWPT: `entries` are
   * `entryLen`-byte requests of `dataType` (`IOMMU_HWPT_INVALIDATE_DATA_VTD_S1`
   * with `iommu_hwpt_vtd_s1_invalidate` records, ...). No entries probes whether
   * the type is supported. Returns how many requests the kernel handled.
   */
  invalidate(dataType: number, entries: readonly Uint8Array[] = [], entryLen = entries[0]?.byteLength ?? 0): number {
    if (entries.some((e) => e.byteLength !== entryLen)) throw new RangeError(`invalidate: every entry must be ${entryLen} bytes`);
    using memory = entries.length > 0 ? AnonymousMemory.allocate(entries.length * entryLen) : undefined;
    entries.forEach((e, i) => memory!.bytes.set(e, i * entryLen));
    return this.iommufd.command('IOMMU_HWPT_INVALIDATE', iommufd.iommu_hwpt_invalidate, {
      hwpt_id: this.id, data_uptr: memory?.address ?? 0n, data_type: dataType, entry_len: entryLen, entry_num: entries.length,
    }).entry_num;
  }
}

/**
 * A memfd of `size` bytes (zero-filled), for {@link Ioas.mapFile}; read and
 * write its bytes with `pread`/`pwrite` on the fd, or mmap it.
 * @throws SyscallError (`memfd_create`, `ftruncate`).
 */
export function createMemfd(name: string, size: number | bigint): OwnedFd {
  const fd = new OwnedFd(check(libc().memfdCreate(name, MFD_CLOEXEC), 'memfd_create', name), `memfd ${name}`);
  if (libc().ftruncate(fd.fd, size) < 0) {
    const error = new SyscallError('ftruncate', errno(), `memfd ${name} to ${size} bytes`);
    fd.close();
    throw error;
  }
  return fd;
}

/** The id of an object reference. */
export function idOf(ref: IommufdObjectRef): number {
  return typeof ref === 'number' ? ref : ref.id;
}

/** `flags`, or READABLE | WRITEABLE, with FIXED_IOVA when an IOVA is given. */
function mapFlags(flags: number | undefined, iova: bigint | undefined): number {
  const base = flags ?? (iommufd.IOMMU_IOAS_MAP_READABLE | iommufd.IOMMU_IOAS_MAP_WRITEABLE);
  return iova === undefined ? base : base | iommufd.IOMMU_IOAS_MAP_FIXED_IOVA;
}

function decodeRanges(bytes: Uint8Array, count: number): IommuIovaRange[] {
  const size = iommufd.iommu_iova_range.size;
  return Array.from({ length: count }, (_, i) => iommufd.iommu_iova_range.decode(bytes, i * size));
}

/** `bytes` in fresh anonymous memory (a stable address to hand the kernel). */
function copyToMemory(bytes: Uint8Array): AnonymousMemory {
  const memory = AnonymousMemory.allocate(bytes.byteLength);
  memory.bytes.set(bytes);
  return memory;
}

/** The names of the bits set in `value` (`[name, bit value]` pairs), unknown bits in hex. */
export function bitNames(bits: readonly (readonly [string, number])[], value: bigint): string[] {
  const out: string[] = [];
  let rest = value;
  for (const [name, bit] of bits) {
    if (value & BigInt(bit)) {
      out.push(name);
      rest &= ~BigInt(bit);
    }
  }
  for (let b = 0n; rest !== 0n; b++, rest >>= 1n) if (rest & 1n) out.push(`0x${(1n << b).toString(16)}`);
  return out;
}
