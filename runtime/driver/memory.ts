/**
 * Page-aligned anonymous memory, e.g. DMA buffers to map with
 * `VFIO_IOMMU_MAP_DMA` (whose `vaddr` is {@link AnonymousMemory.address}).
 */

import { SyscallError, VfioError } from './errors.js';
import {
  MAP_ANONYMOUS, MAP_FAILED, MAP_FIXED, MAP_LOCKED, MAP_NORESERVE, MAP_POPULATE, MAP_PRIVATE, PROT_READ, PROT_WRITE,
  addressOf, errno, libc, nativeView, pageSize, type NativePointer,
} from './libc.js';

/** Options of {@link AnonymousMemory.allocate}. */
export interface AnonymousMemoryOptions {
  /** `MAP_LOCKED`: lock the pages in RAM (subject to `RLIMIT_MEMLOCK`). */
  readonly locked?: boolean;
  /** `MAP_POPULATE`: fault all pages in now. */
  readonly populate?: boolean;
}

/**
 * A private anonymous read/write mapping (`mmap(NULL, size, PROT_READ |
 * PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)`), zero-filled, page aligned,
 * its size rounded up to whole pages.
 *
 * Its bytes are exposed without copy as an external ArrayBuffer. That buffer
 * cannot be detached, so {@link AnonymousMemory.free} does not leave it pointing
 * at unmapped memory: it releases the pages at once (replacing them with fresh
 * zero pages, see {@link retireMapping}) and returns the address range itself to
 * the system only when the last view of it has been garbage-collected. A view
 * kept past free() reads zeros; it never crashes the process.
 */
export class AnonymousMemory implements Disposable {
  /** Length in bytes, a multiple of the page size. */
  readonly size: number;
  /** Virtual address of the first byte. */
  readonly address: bigint;
  #pointer: NativePointer;
  #buffer: ArrayBuffer | undefined;

  private constructor(pointer: NativePointer, size: number) {
    this.#pointer = pointer;
    this.size = size;
    this.address = addressOf(pointer);
    this.#buffer = nativeView(pointer, size);
  }

  /**
   * Maps at least `size` bytes (rounded up to whole pages, at least one page).
   * @throws SyscallError (`mmap`) on failure, e.g. `EAGAIN`/`EPERM` for `locked` over the memlock limit.
   */
  static allocate(size: number, options: AnonymousMemoryOptions = {}): AnonymousMemory {
    if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`invalid mapping size ${size}`);
    const page = pageSize();
    const length = Math.max(page, Math.ceil(size / page) * page);
    const flags = MAP_PRIVATE | MAP_ANONYMOUS | (options.locked ? MAP_LOCKED : 0) | (options.populate ? MAP_POPULATE : 0);
    const pointer = libc().mmap(null, length, PROT_READ | PROT_WRITE, flags, -1, 0);
    if (pointer === null || addressOf(pointer) === MAP_FAILED) {
      throw new SyscallError('mmap', errno(), `of ${length} anonymous bytes`);
    }
    try {
      return new AnonymousMemory(pointer, length);
    } catch (error) {
      libc().munmap(pointer, length);
      throw error;
    }
  }

  /** The mapping as an ArrayBuffer (no copy). Throws {@link VfioError} once freed. */
  get buffer(): ArrayBuffer {
    if (this.#buffer === undefined) throw new VfioError(`mapping at 0x${this.address.toString(16)} was freed`);
    return this.#buffer;
  }

  /** `new Uint8Array(buffer)`. Throws {@link VfioError} once freed. */
  get bytes(): Uint8Array {
    return new Uint8Array(this.buffer);
  }

  /** The koffi pointer, to pass the mapping to libc functions. Throws {@link VfioError} once freed. */
  get pointer(): NativePointer {
    if (this.freed) throw new VfioError(`mapping at 0x${this.address.toString(16)} was freed`);
    return this.#pointer;
  }

  /** Whether {@link AnonymousMemory.free} was called. */
  get freed(): boolean {
    return this.#buffer === undefined;
  }

  /** Unmaps the pages; later calls do nothing. @throws SyscallError (`munmap`) if the kernel refuses. */
  free(): void {
    const buffer = this.#buffer;
    if (buffer === undefined) return;
    this.#buffer = undefined;
    retireMapping(this.#pointer, this.size, buffer, `0x${this.address.toString(16)}`);
    this.#pointer = null;
  }

  /** {@link AnonymousMemory.free}. */
  [Symbol.dispose](): void {
    this.free();
  }
}

/** Address ranges whose views are still reachable: unmapped when their buffer is collected. */
const retired = new FinalizationRegistry<{ pointer: NativePointer; size: number }>(({ pointer, size }) => {
  libc().munmap(pointer, size);
});

/**
 * Ends a mapping that JavaScript views (`buffer`, from `nativeView`) may still
 * reach: its pages (anonymous memory, or a device's BAR) are replaced at once by
 * private zero pages with `mmap(MAP_FIXED)`, so the memory or device is released
 * now, and the address range is unmapped once `buffer` is garbage-collected.
 * No view can then touch an unmapped address (a SIGSEGV).
 * @throws SyscallError (`mmap`) if the kernel refuses to replace the pages (the mapping is then unchanged).
 */
export function retireMapping(pointer: NativePointer, size: number, buffer: ArrayBuffer, what: string): void {
  const flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE;
  const replaced = libc().mmap(pointer, size, PROT_READ | PROT_WRITE, flags, -1, 0);
  if (replaced === null || addressOf(replaced) === MAP_FAILED) throw new SyscallError('mmap', errno(), `replacing ${what}`);
  retired.register(buffer, { pointer, size });
}
