/**
 * A VFIO container (`/dev/vfio/vfio`): the IOMMU context groups are attached
 * to, and where DMA mappings live.
 */

import * as vfio from '../../generated/vfio/index.js';
import type { VfioIommuType1InfoCapMigration, VfioIovaRange } from '../../generated/vfio/index.js';
import { VfioError } from './errors.js';
import type { OwnedFd } from './fd.js';
import { readBitmap } from './bitmap.js';
import { AnonymousMemory } from './memory.js';
import {
  VfioFd, capabilityValue, decodeCapabilities, initOrClose, openVfioPath,
  type DecodedCapability, type VfioSyscalls,
} from './vfio-fd.js';

/** Options of {@link Container.open}. */
export interface ContainerOptions extends VfioSyscalls {
  /** The container device (default `/dev/vfio/vfio`). */
  readonly path?: string;
}

/** What {@link Container.iommuInfo} returns: `struct vfio_iommu_type1_info` and its capabilities. */
export interface IommuInfo {
  /** `VFIO_IOMMU_INFO_*`. */
  readonly flags: number;
  /** `flags` decoded (`VFIO_IOMMU_INFO_PGSIZES`, `VFIO_IOMMU_INFO_CAPS`). */
  readonly flagNames: readonly string[];
  /** Bitmap of the supported IOMMU page sizes (bit n: 2^n bytes). */
  readonly iovaPgsizes: bigint;
  /** Every capability of the chain, decoded. */
  readonly capabilities: readonly DecodedCapability[];
  /** `VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE`: the usable IOVA ranges (inclusive ends). */
  readonly iovaRanges?: readonly VfioIovaRange[];
  /** `VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION`: dirty-page tracking support. */
  readonly migration?: VfioIommuType1InfoCapMigration;
  /** `VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL`: how many more DMA mappings the container accepts. */
  readonly dmaAvail?: number;
}

/** A mapping for {@link Container.mapDma}. */
export interface DmaMapping {
  /** Process virtual address of the memory (e.g. `AnonymousMemory.address`). */
  readonly vaddr: bigint;
  /** Device (I/O virtual) address to map it at. */
  readonly iova: bigint;
  /** Length in bytes, a multiple of the IOMMU page size. */
  readonly size: bigint | number;
  /** `VFIO_DMA_MAP_FLAG_*` (default READ | WRITE: the device may read and write). */
  readonly flags?: number;
}

/** What {@link Container.unmapDma} removes: a range, or everything (`all`). */
export interface DmaUnmapping {
  /** Start of the range (default 0). */
  readonly iova?: bigint;
  /** Length of the range in bytes (default 0). */
  readonly size?: bigint | number;
  /** `VFIO_DMA_UNMAP_FLAG_*` besides ALL. */
  readonly flags?: number;
  /** `VFIO_DMA_UNMAP_FLAG_ALL`: unmap every mapping (iova and size must be 0). */
  readonly all?: boolean;
}

/** What {@link Container.dirtyBitmap} returns. */
export interface DirtyBitmap {
  /** Start of the range asked about. */
  readonly iova: bigint;
  /** Its length in bytes. */
  readonly size: bigint;
  /** The page size each bit stands for. */
  readonly pgsize: bigint;
  /** The bitmap as the kernel wrote it: page `i` is bit `i % 64` of word `floor(i / 64)`. */
  readonly words: BigUint64Array;
  /** How many pages are dirty. */
  readonly dirtyPages: number;
}

/**
 * A VFIO container. Typical use: open it, attach a group
 * (`group.setContainer(container)`), pick the IOMMU model with
 * {@link Container.setIommu}, then map memory with {@link Container.mapDma}.
 */
export class Container extends VfioFd {
  /** Always `'container'`. */
  readonly kind = 'container' as const;

  private constructor(fd: OwnedFd, syscalls: VfioSyscalls) {
    super(fd, syscalls);
  }

  /**
   * Opens the container device and checks its API version is
   * `VFIO_API_VERSION`.
   * @throws SyscallError (`open`) when the path is missing or inaccessible.
   * @throws IoctlError `ENOTTY` when the path is not a VFIO container.
   * @throws VfioError on an API version mismatch. The fd is closed on every failure.
   */
  static open(options: ContainerOptions = {}): Container {
    const path = options.path ?? '/dev/vfio/vfio';
    return Container.fromFd(openVfioPath(path, 'VFIO container'), options);
  }

  /** Takes ownership of an open container fd (closed if the API version check fails). */
  static fromFd(fd: OwnedFd, syscalls: VfioSyscalls = {}): Container {
    return initOrClose(new Container(fd, syscalls), (container) => {
      const version = container.apiVersion();
      if (version !== vfio.VFIO_API_VERSION) {
        throw new VfioError(`${container.label}: VFIO API version ${version}, these bindings speak ${vfio.VFIO_API_VERSION}`);
      }
    });
  }

  /** `VFIO_GET_API_VERSION`. */
  apiVersion(): number {
    return this.ioctlValue('VFIO_GET_API_VERSION');
  }

  /**
   * `VFIO_CHECK_EXTENSION` (the extension is passed by value): > 0 when
   * `extension` (`VFIO_TYPE1v2_IOMMU`, `VFIO_UNMAP_ALL`, ...) is supported.
   */
  checkExtension(extension: number): number {
    return this.ioctlValue('VFIO_CHECK_EXTENSION', extension);
  }

  /** `VFIO_SET_IOMMU` (by value): picks the IOMMU model; needs a group attached first. */
  setIommu(type: number): void {
    this.ioctlValue('VFIO_SET_IOMMU', type);
  }

  /** `VFIO_IOMMU_GET_INFO` through the argsz protocol, its capability chain decoded. */
  iommuInfo(): IommuInfo {
    const codec = vfio.vfio_iommu_type1_info;
    const { value, bytes } = this.ioctlInfo('VFIO_IOMMU_GET_INFO', codec);
    const hasCaps = (value.flags & vfio.VFIO_IOMMU_INFO_CAPS) !== 0;
    const caps = decodeCapabilities('vfio_iommu_type1_info', bytes, hasCaps ? value.cap_offset : 0, codec.size);
    const iova = caps.find((c) => c.name === 'VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE');
    return {
      flags: value.flags,
      flagNames: vfio.vfio_iommu_type1_info_flags.decode(value.flags),
      iovaPgsizes: value.iova_pgsizes,
      capabilities: caps,
      iovaRanges: iova?.elements as VfioIovaRange[] | undefined,
      migration: capabilityValue(caps, 'VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION'),
      dmaAvail: capabilityValue<{ avail: number }>(caps, 'VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL')?.avail,
    };
  }

  /** `VFIO_IOMMU_MAP_DMA`: makes `size` bytes at `vaddr` visible to the devices at `iova` (pins the pages). */
  mapDma(mapping: DmaMapping): void {
    const codec = vfio.vfio_iommu_type1_dma_map;
    this.ioctlPointer('VFIO_IOMMU_MAP_DMA', codec.encode({
      argsz: codec.size,
      flags: mapping.flags ?? (vfio.VFIO_DMA_MAP_FLAG_READ | vfio.VFIO_DMA_MAP_FLAG_WRITE),
      vaddr: mapping.vaddr,
      iova: mapping.iova,
      size: BigInt(mapping.size),
    }));
  }

  /** `VFIO_IOMMU_UNMAP_DMA`; returns how many bytes the kernel unmapped. */
  unmapDma(unmapping: DmaUnmapping): bigint {
    const codec = vfio.vfio_iommu_type1_dma_unmap;
    const bytes = codec.encode({
      argsz: codec.size,
      flags: (unmapping.flags ?? 0) | (unmapping.all ? vfio.VFIO_DMA_UNMAP_FLAG_ALL : 0),
      iova: unmapping.iova ?? 0n,
      size: BigInt(unmapping.size ?? 0),
    });
    this.ioctlPointer('VFIO_IOMMU_UNMAP_DMA', bytes);
    return codec.decode(bytes).size;
  }

  /** `VFIO_IOMMU_DIRTY_PAGES` with `FLAG_START`: starts dirty-page tracking of every mapping. */
  startDirtyTracking(): void {
    this.#dirtyPages(vfio.VFIO_IOMMU_DIRTY_PAGES_FLAG_START);
  }

  /** `VFIO_IOMMU_DIRTY_PAGES` with `FLAG_STOP`. */
  stopDirtyTracking(): void {
    this.#dirtyPages(vfio.VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP);
  }

  /**
   * `VFIO_IOMMU_DIRTY_PAGES` with `FLAG_GET_BITMAP`: the pages of
   * [`iova`, `iova + size`) written since the last call (the range must cover
   * whole mappings; tracking must be started). The kernel writes the bitmap into
   * anonymous memory allocated here, copied out and freed.
   * @param range.pgsize the page size of a bit; default the smallest IOMMU page size (the only one the kernel accepts).
   */
  dirtyBitmap(range: { iova: bigint; size: bigint | number; pgsize?: bigint }): DirtyBitmap {
    const size = BigInt(range.size);
    const pgsize = range.pgsize ?? smallestPage(this.iommuInfo().iovaPgsizes);
    const pages = (size + pgsize - 1n) / pgsize;
    const words = Number((pages + 63n) / 64n);
    using memory = AnonymousMemory.allocate(words * 8);
    const get = vfio.vfio_iommu_type1_dirty_bitmap_get.encode({
      iova: range.iova, size, bitmap: { pgsize, size: BigInt(words * 8), data: memory.address },
    });
    this.#dirtyPages(vfio.VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP, get);
    return { iova: range.iova, size, pgsize, ...readBitmap(memory, words) };
  }

  #dirtyPages(flags: number, data?: Uint8Array): void {
    const codec = vfio.vfio_iommu_type1_dirty_bitmap;
    const n = data?.byteLength ?? 0;
    this.ioctlPointer('VFIO_IOMMU_DIRTY_PAGES', codec.encode({ argsz: codec.argszFor(n), flags, data }));
  }
}

/** The lowest set bit of a page-size bitmap. */
function smallestPage(pgsizes: bigint): bigint {
  if (pgsizes === 0n) throw new VfioError('the IOMMU reports no page sizes');
  return pgsizes & -pgsizes;
}
