/**
 * The small support library of generated codecs: bounds-checked views, value
 * checks for encoders, bit-fields, and flag sets. Generated code stays
 * straight-line DataView calls and leans on these for everything else.
 */

/** A DataView of `size` bytes at `offset` in `bytes`; RangeError if they are not all there. */
export function viewOf(bytes: Uint8Array, offset: number, size: number, cName: string): DataView {
  if (!(offset >= 0) || offset + size > bytes.byteLength || !Number.isInteger(offset)) {
    throw new RangeError(`${cName}: need ${size} bytes at offset ${offset}, buffer has ${bytes.byteLength}`);
  }
  return new DataView(bytes.buffer, bytes.byteOffset + offset, size);
}

/** Throws a RangeError unless `size` bytes at `offset` lie within `length` bytes. */
export function checkRange(length: number, offset: number, size: number, cName: string): void {
  if (!Number.isInteger(offset) || offset < 0 || offset + size > length) {
    throw new RangeError(`${cName}: need ${size} bytes at offset ${offset}, buffer has ${length}`);
  }
}

/**
 * Throws a RangeError unless `size` bytes at `offset` lie within `view`, before
 * an encoder writes anything. The common case costs one read of the record's
 * last byte: DataView bounds-checks it inline, where `view.byteLength` is a call
 * on Node 20.
 */
export function checkView(view: DataView, offset: number, size: number, cName: string): void {
  if ((offset >>> 0) === offset && size > 0) {
    try {
      view.getUint8(offset + size - 1);
      return;
    } catch {
      // out of range: reported below
    }
  }
  checkRange(view.byteLength, offset, size, cName);
}

// ---- record buffers ------------------------------------------------------------------------
//
// A fresh ArrayBuffer costs ~0.4 µs on Node 20 (a backing store and its GC
// bookkeeping), ten times the encoding of a typical record. Small records are
// therefore cut from shared 8 KiB slabs, as Node's Buffer pool does: each
// piece is handed out once, so it is zero until written, and never reused.

const SLAB_SIZE = 8192;
/** Larger records get an ArrayBuffer of their own. */
const SLAB_MAX_RECORD = 1024;
/** Pieces start at multiples of 8 (the largest alignment of a VFIO record): the memory is aligned as C would align it. */
const SLAB_ALIGN = 8;

let slab = new ArrayBuffer(SLAB_SIZE);
let slabView = new DataView(slab);
let slabUsed = 0;

/**
 * A zeroed, 8-byte-aligned buffer of `size` bytes for one encoded record.
 *
 * Up to 1 KiB it is a view into a shared slab (like `Buffer.allocUnsafe`'s
 * pool, but zeroed): address it by `byteOffset`/`byteLength`, never by its
 * `.buffer` alone, and `.slice()` it for a copy that does not keep the 8 KiB
 * slab alive.
 */
export function allocate(size: number): Uint8Array {
  if (size > SLAB_MAX_RECORD) return new Uint8Array(size);
  if (slabUsed + size > SLAB_SIZE) {
    slab = new ArrayBuffer(SLAB_SIZE);
    slabView = new DataView(slab);
    slabUsed = 0;
  }
  const bytes = new Uint8Array(slab, slabUsed, size);
  slabUsed = (slabUsed + size + SLAB_ALIGN - 1) & -SLAB_ALIGN;
  return bytes;
}

/** A DataView over the whole ArrayBuffer of `bytes` (write at `bytes.byteOffset`); the current slab's is shared. */
export function bufferView(bytes: Uint8Array): DataView {
  return bytes.buffer === slab ? slabView : new DataView(bytes.buffer);
}

function bad(path: string, value: unknown, what: string, expected: 'number' | 'bigint' | 'object'): never {
  const shown = typeof value === 'bigint' ? `${value}n` : typeof value === 'string' ? JSON.stringify(value) : String(value);
  const wrongType = expected === 'object' ? typeof value !== 'object' || value === null : typeof value !== expected;
  throw new (wrongType ? TypeError : RangeError)(`${path}: ${shown} is not ${what}`);
}

/** Checks an integer of at most 32 bits; `undefined` encodes as 0. */
export function int(value: number | undefined, min: number, max: number, path: string): number {
  if (value === undefined) return 0;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) bad(path, value, `an integer in [${min}, ${max}]`, 'number');
  return value;
}

// The slow paths of the generated encoders' inline checks (`(m >>> 0) === m ? m : u32(m, path)`): two
// arguments, so that each member costs little bytecode and records stay small enough for V8 to inline.

/** Checks a __u8 value; `undefined` encodes as 0. */
export function u8(value: number | undefined, path: string): number { return int(value, 0, 0xff, path); }
/** Checks a __s8 value; `undefined` encodes as 0. */
export function s8(value: number | undefined, path: string): number { return int(value, -0x80, 0x7f, path); }
/** Checks a __u16 value; `undefined` encodes as 0. */
export function u16(value: number | undefined, path: string): number { return int(value, 0, 0xffff, path); }
/** Checks a __s16 value; `undefined` encodes as 0. */
export function s16(value: number | undefined, path: string): number { return int(value, -0x8000, 0x7fff, path); }
/** Checks a __u32 value; `undefined` encodes as 0. */
export function u32(value: number | undefined, path: string): number { return int(value, 0, 0xffff_ffff, path); }
/** Checks a __s32 value; `undefined` encodes as 0. */
export function s32(value: number | undefined, path: string): number { return int(value, -0x8000_0000, 0x7fff_ffff, path); }

const U64_MAX = 0xffff_ffff_ffff_ffffn;
const I64_MIN = -0x8000_0000_0000_0000n;
const I64_MAX = 0x7fff_ffff_ffff_ffffn;

/** Checks an unsigned 64-bit integer (a bigint); `undefined` encodes as 0. */
export function u64(value: bigint | undefined, path: string): bigint {
  if (value === undefined) return 0n;
  if (typeof value !== 'bigint' || value < 0n || value > U64_MAX) bad(path, value, 'a bigint in [0, 2^64-1]', 'bigint');
  return value;
}

/** Checks a signed 64-bit integer (a bigint); `undefined` encodes as 0. */
export function s64(value: bigint | undefined, path: string): bigint {
  if (value === undefined) return 0n;
  if (typeof value !== 'bigint' || value < I64_MIN || value > I64_MAX) bad(path, value, 'a bigint in [-2^63, 2^63-1]', 'bigint');
  return value;
}

/** Checks an array-like value of at most `length` elements (a missing value is all zero). */
export function list<T>(value: ArrayLike<T> | undefined, length: number, path: string): ArrayLike<T> {
  if (value === undefined) return [];
  if (typeof value !== 'object' || value === null) bad(path, value, 'an array', 'object');
  // Read once: a getter may answer differently on the next read (after the size was checked).
  const n: unknown = value.length;
  if (typeof n !== 'number') bad(path, value, 'an array', 'object');
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`${path}: length ${String(n)} is not a non-negative integer`);
  if (n > length) throw new RangeError(`${path}: ${n} elements given, it holds ${length}`);
  // Arrays and typed arrays are returned as they are (generated writers loop over the length they read right after
  // this check, with no user code in between, and a flexible array's writer refuses more than its encoder checked);
  // any other array-like is copied as it stands now. (Asking a typed array for its buffer's `resizable` here cost
  // 120 ns a call, more than the rest of an encode.)
  if (Array.isArray(value) || ArrayBuffer.isView(value)) return value;
  return Array.from({ length: n }, (_, i) => value[i]!);
}

/** Reads a bit-field: `width` bits at bit `bit` of the `size`-byte unit at `offset` (bit 0 is the first allocated). */
export function getBits(view: DataView, offset: number, size: number, bit: number, width: number, littleEndian: boolean, signed: boolean): number {
  let unit = 0n;
  for (let i = 0; i < size; i++) unit = (unit << 8n) | BigInt(view.getUint8(offset + (littleEndian ? size - 1 - i : i)));
  const shift = littleEndian ? bit : size * 8 - bit - width;
  const raw = (unit >> BigInt(shift)) & ((1n << BigInt(width)) - 1n);
  return Number(signed ? BigInt.asIntN(width, raw) : raw);
}

/** Writes a bit-field (see {@link getBits}), leaving the other bits of the unit as they are. */
export function setBits(view: DataView, offset: number, size: number, bit: number, width: number, littleEndian: boolean, value: number, path: string): void {
  const min = -(2 ** (width - 1));
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value >= 2 ** width) bad(path, value, `a ${width}-bit integer`, 'number');
  let unit = 0n;
  for (let i = 0; i < size; i++) unit = (unit << 8n) | BigInt(view.getUint8(offset + (littleEndian ? size - 1 - i : i)));
  const shift = BigInt(littleEndian ? bit : size * 8 - bit - width);
  const mask = ((1n << BigInt(width)) - 1n) << shift;
  unit = (unit & ~mask) | ((BigInt.asUintN(width, BigInt(value)) << shift) & mask);
  for (let i = 0; i < size; i++) view.setUint8(offset + (littleEndian ? i : size - 1 - i), Number((unit >> BigInt(8 * i)) & 0xffn));
}

/** A typed set of single-bit flags tied to one field (`vfio_region_info.flags`). */
export interface FlagSet<Name extends string> {
  /** The field the flags belong to, `struct vfio_region_info.flags`. */
  readonly field: string;
  readonly bits: Readonly<Record<Name, number>>;
  /** Multi-bit masks and values that share the field (`VFIO_IRQ_SET_DATA_TYPE_MASK`). */
  readonly masks: Readonly<Record<string, number>>;
  /** The names of the flags set in `value`; unknown bits as `0x...` strings, so none is lost. */
  decode(value: number): (Name | `0x${string}`)[];
  /** The value with exactly these flags set. */
  encode(names: readonly Name[]): number;
}

/** Builds a {@link FlagSet} (used by generated code). */
export function flagSet<Name extends string>(field: string, bits: Record<Name, number>, masks: Record<string, number> = {}): FlagSet<Name> {
  const entries = Object.entries(bits) as [Name, number][];
  return {
    field,
    bits,
    masks,
    decode(value) {
      const names: (Name | `0x${string}`)[] = [];
      let rest = value >>> 0;
      for (const [name, bit] of entries) {
        if ((rest & bit) !== 0) { names.push(name); rest = (rest & ~bit) >>> 0; }
      }
      for (let b = 0; b < 32; b++) if (rest & (1 << b)) names.push(`0x${((1 << b) >>> 0).toString(16)}`);
      return names;
    },
    encode(names) {
      let v = 0;
      for (const n of names) {
        const bit = Object.hasOwn(bits, n) ? bits[n] : undefined;
        if (bit === undefined) throw new TypeError(`${field}: unknown flag ${String(n)}`);
        v |= bit;
      }
      return v >>> 0;
    },
  };
}

/** Checks an integer given as a bigint (a 32-bit `long` or pointer on a 32-bit ABI). */
export function big(value: bigint | undefined, min: bigint, max: bigint, path: string): bigint {
  if (value === undefined) return 0n;
  if (typeof value !== 'bigint' || value < min || value > max) bad(path, value, `a bigint in [${min}, ${max}]`, 'bigint');
  return value;
}

/** Checks a floating-point number. */
export function num(value: number | undefined, path: string): number {
  if (value === undefined) return 0;
  if (typeof value !== 'number') bad(path, value, 'a number', 'number');
  return value;
}

/** Checks a nested record value (an object). */
export function obj<T extends object>(value: T | undefined, path: string): Partial<T> {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null) bad(path, value, 'an object', 'object');
  return value;
}
