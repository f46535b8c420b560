/**
 * The contract between generated bindings and the runtime.
 *
 * Generated struct/union codecs implement {@link Codec}; ioctl descriptors are
 * {@link IoctlDescriptor}s. The runtime only depends on these shapes, never on a
 * particular generated module.
 */

/** Where a field sits in its record, for tools (verify, diff, pretty-printers). */
export interface FieldLayout {
  /** C member-access path (`argsz`, `header.id`; anonymous members flattened). */
  readonly path: string;
  readonly offset: number;
  readonly size: number;
  /** C type as written in the header (`__u32`, `struct vfio_info_cap_header`, `__u8[16]`). */
  readonly type: string;
  /** Signedness, for integer fields. */
  readonly signed?: boolean;
  /** Array element count; 0 for a flexible array member. */
  readonly count?: number;
  /** For bit-fields: the first bit from the record's start (in allocation order) and the width. */
  readonly bitOffset?: number;
  readonly bitWidth?: number;
}

/** A fixed-layout struct or union codec for one ABI. */
export interface Codec<T> {
  /** C name, `struct vfio_region_info`. */
  readonly cName: string;
  /** sizeof, for the fixed part (a flexible array member adds nothing). */
  readonly size: number;
  readonly align: number;
  readonly fields: readonly FieldLayout[];
  /** Flexible array member, if the record ends in one: where its elements start and their size. */
  readonly flex?: { readonly path: string; readonly offset: number; readonly elementSize: number };
  /** Reads a value at `offset`; throws RangeError if the bytes are too short. */
  decode(bytes: Uint8Array, offset?: number): T;
  /**
   * A new buffer holding `value`, padding zero: `size` bytes, plus the trailing
   * elements of a flexible array member given in `value`. Missing members are
   * zero; out-of-range or wrongly typed values throw (RangeError/TypeError).
   * The buffer is 8-byte aligned, and up to 1 KiB a view into a shared slab
   * (see `allocate` in runtime/encoding.ts): use its `byteOffset`, not just its `.buffer`.
   */
  encode(value: Partial<T>): Uint8Array;
  /**
   * Writes `value` into `view` at `offset`. Throws a RangeError, before writing
   * anything, when the record does not fit; a bad member value throws when that
   * member is reached, leaving the members before it written.
   */
  encodeInto(view: DataView, offset: number, value: Partial<T>): void;
}

/** A codec of a record ending in a flexible array member of `E` elements. */
export interface FlexCodec<T, E> extends Codec<T> {
  readonly flex: { readonly path: string; readonly offset: number; readonly elementSize: number };
  /** The argsz for `n` trailing elements: max(sizeof, offset of the array + n elements). */
  argszFor(n: number): number;
  /** Decodes `count` trailing elements, or as many as the buffer holds after the record at `offset`. */
  decodeFlex(bytes: Uint8Array, offset?: number, count?: number): E;
}

/** What an ioctl takes as its third argument. */
export type IoctlArgument =
  | { readonly kind: 'none' }
  | { readonly kind: 'int' }
  | { readonly kind: 'int-pointer' }
  | { readonly kind: 'struct'; readonly codec: Codec<unknown>; readonly direction: 'in' | 'out' | 'inout' }
  /** An integer of C type `cType`; the header does not say whether by value or through a pointer (`direction`: `_IOW`-style doc). */
  | { readonly kind: 'scalar'; readonly cType: string; readonly direction: 'in' | 'out' | 'inout' | 'value' }
  /** A pointer to a NUL-terminated string (`_IOW(..., char)`). */
  | { readonly kind: 'string' }
  | { readonly kind: 'unknown'; readonly reason?: string };

/** The kind of file descriptor an ioctl applies to. */
export type FdKind = 'container' | 'group' | 'device' | 'iommufd' | 'unknown';

/** One ioctl of a header, for one ABI. */
export interface IoctlDescriptor {
  readonly name: string;
  readonly request: number;
  readonly fd: FdKind;
  readonly arg: IoctlArgument;
}

/** An ioctl descriptor whose argument is a struct of type `T`: `ioctl(fd, d, value)` takes a `Partial<T>` and returns the decoded `T`. */
export interface StructIoctl<T> extends IoctlDescriptor {
  readonly arg: { readonly kind: 'struct'; readonly codec: Codec<T>; readonly direction: 'in' | 'out' | 'inout' };
}
