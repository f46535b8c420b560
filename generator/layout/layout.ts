/**
 * Per-ABI layout: sizes, alignments and offsets of every record, and the values
 * of every integer constant, for one ABI of the table. Reads the IR; never
 * changes it.
 */
import { ABI_BUILTIN_PREFIX, type Abi, type ScalarName } from '../abi/abis.js';
import { HeaderError, type SourceLoc } from '../errors.js';
import type { TypeName } from '../expr/ast.js';
import { evaluate, intTypes, type EvalEnv, type IntType, type IntValue } from '../expr/evaluate.js';
import type { CType, EnumDecl, Field, HeaderIR, RecordDecl } from '../ir/types.js';
import type { Expr } from '../expr/ast.js';
import { ourLimit } from '../limits.js';

/** Sizes beyond this (in bytes) would not be exact in JavaScript numbers counted in bits. */
const MAX_SIZE = BigInt(Number.MAX_SAFE_INTEGER) / 8n;

/** Size and alignment of a type, in bytes. */
export interface TypeLayout {
  readonly size: number;
  readonly align: number;
}

/** Where one member of a record sits. */
export interface MemberLayout {
  readonly field: Field;
  /** Byte offset from the start of the enclosing record. */
  readonly offset: number;
  readonly size: number;
  readonly align: number;
  /** For bit-fields: the first bit, counted from the record's start in allocation order, and the width. */
  readonly bitOffset?: number;
  readonly bitWidth?: number;
  /** The member's type with typedefs resolved away. */
  readonly resolved: CType;
}

/** A record's layout on one ABI. */
export interface RecordLayout extends TypeLayout {
  readonly decl: RecordDecl;
  readonly members: readonly MemberLayout[];
}

/** One evaluated integer constant. */
export interface ConstantValue extends IntValue {
  readonly name: string;
  readonly source: 'macro' | 'enum';
  readonly loc: SourceLoc;
}

const SCALAR_OF: Record<string, ScalarName> = {
  char: 'char', 'signed char': 'char', 'unsigned char': 'char', _Bool: '_Bool',
  __int128: '__int128', short: 'short', int: 'int', long: 'long', 'long long': 'long long', float: 'float', double: 'double', 'long double': 'long double',
};

/** Normalises builtin type words: `unsigned long int` -> `{scalar: 'long', signed: false}`. */
export function builtinScalar(words: readonly string[], abi: Abi): { scalar: ScalarName; signed: boolean } | undefined {
  const key = `${abi.charSigned ? 's' : 'u'} ${words.join(' ')}`;
  let hit = scalarMemo.get(key);
  if (hit === undefined) scalarMemo.set(key, (hit = computeBuiltinScalar(words, abi) ?? null));
  return hit ?? undefined;
}
/** builtinScalar's answers depend on the words and the ABI's char signedness only. */
const scalarMemo = new Map<string, { scalar: ScalarName; signed: boolean } | null>();

function computeBuiltinScalar(words: readonly string[], abi: Abi): { scalar: ScalarName; signed: boolean } | undefined {
  const w = words.filter((x) => x !== 'int' || words.length === 1 || !words.some((y) => y === 'short' || y === 'long'));
  const unsigned = w.includes('unsigned');
  const signedWord = w.includes('signed');
  const rest = w.filter((x) => x !== 'unsigned' && x !== 'signed');
  const key = rest.length === 0 ? 'int' : rest.join(' ');
  const scalar = SCALAR_OF[key];
  if (!scalar) return undefined;
  const signed = scalar === '_Bool' ? false : unsigned ? false : signedWord ? true : scalar === 'char' ? abi.charSigned : true;
  return { scalar, signed };
}

/**
 * What a layout reads of its ABI (the rest of the table entry, byte order included, never changes a size, an
 * offset or a constant): layouts of one IR on ABIs equal in these are equal, and share their results.
 */
export function layoutRulesOf(abi: Abi): string {
  return JSON.stringify([abi.charSigned, abi.scalars, abi.maxAlign, abi.ioc, abi.zeroWidthBitFieldAligns === true]);
}

/** The memoised results of a layout: shared by the layouts of one IR on ABIs with the same {@link layoutRulesOf}. */
interface LayoutMemo {
  readonly rules: string;
  readonly records: Map<number, RecordLayout>;
  readonly inProgress: Set<number>;
  readonly enumTypes: Map<number, IntType>;
  /** The enumerators' values: shared more widely still where they read little of the ABI (see {@link enumRulesOf}). */
  readonly enumerators: { values?: Map<string, ConstantValue> };
  constantList?: ConstantList;
}

/** {@link AbiLayout.constants}' answer. */
export interface ConstantList {
  readonly values: readonly ConstantValue[];
  readonly skipped: readonly { readonly name: string; readonly reason: string }[];
}

/**
 * Results by IR and layout rules. Keyed by the IR's record list, which the IRs of ABIs that share a parse
 * share (parseHeaderForAbis): 13 layouts of vfio.h compute each record and constant on 10 rule sets only,
 * and a sweep's layouts of one header on alike ABIs compute it once. The IR is never changed, so the results
 * stay true for as long as it lives (and go with it).
 */
const memos = new WeakMap<object, Map<string, LayoutMemo>>();
const enumMemos = new WeakMap<object, Map<string, LayoutMemo['enumerators']>>();
function sharedMemo(ir: HeaderIR, abi: Abi): LayoutMemo {
  let byRules = memos.get(ir.records);
  if (!byRules) memos.set(ir.records, (byRules = new Map()));
  const rules = layoutRulesOf(abi);
  let memo = byRules.get(rules);
  if (!memo) {
    let enums = enumMemos.get(ir.records);
    if (!enums) enumMemos.set(ir.records, (enums = new Map()));
    const enumRules = enumRulesOf(ir, abi);
    let enumerators = enums.get(enumRules);
    if (!enumerators) enums.set(enumRules, (enumerators = {}));
    byRules.set(rules, (memo = { rules, records: new Map(), inProgress: new Set(), enumTypes: new Map(), enumerators }));
  }
  return memo;
}

/**
 * What the enumerators' values read of the ABI. Where every explicit value is plain arithmetic on literals and
 * other enumerators (no sizeof, alignof, cast, typeof or ioctl builtin), only `long`'s width (the type of a large
 * literal) and `char`'s signedness do: a header with 90k enumerators evaluates them 4 times, not once per rule set.
 */
function enumRulesOf(ir: HeaderIR, abi: Abi): string {
  let plain = plainEnums.get(ir.enums);
  if (plain === undefined) plainEnums.set(ir.enums, (plain = ir.enums.every((d) => (d.enumerators ?? []).every((e) => !e.value || isPlain(e.value)))));
  return plain ? `plain ${abi.scalars.long.size} ${abi.charSigned}` : layoutRulesOf(abi);
}
const plainEnums = new WeakMap<object, boolean>();

/** Whether `e` is arithmetic on literals and identifiers other than the ABI's builtins (iteratively: expressions may nest deeply). */
function isPlain(e: Expr): boolean {
  const todo: Expr[] = [e];
  for (let x = todo.pop(); x !== undefined; x = todo.pop()) {
    switch (x.k) {
      case 'int': case 'char': break;
      case 'ident': if (x.name.startsWith(ABI_BUILTIN_PREFIX)) return false; break;
      case 'unary': todo.push(x.e); break;
      case 'binary': todo.push(x.l, x.r); break;
      case 'cond': todo.push(x.c, x.t, x.f); break;
      default: return false;
    }
  }
  return true;
}

/** The layout of one header on one ABI. Results are computed on demand and memoised. */
export class AbiLayout {
  private readonly memo: LayoutMemo;
  private get records() { return this.memo.records; }
  private get inProgress() { return this.memo.inProgress; }
  private get enumTypes() { return this.memo.enumTypes; }
  private enumError?: Error;
  private readonly T: ReturnType<typeof intTypes>;
  readonly env: EvalEnv;

  constructor(readonly ir: HeaderIR, readonly abi: Abi) {
    if (ir.abiSensitive && ir.abi !== abi.name) {
      throw new Error(`${ir.file} depends on the ABI (its #ifs test ABI macros): parse it for ${abi.name} (parseHeaderForAbis), not ${ir.abi ?? 'ABI-independently'}`);
    }
    this.memo = sharedMemo(ir, abi);
    this.T = intTypes(abi.scalars.long.size * 8);
    this.env = {
      longBits: abi.scalars.long.size * 8,
      charSigned: abi.charSigned,
      ident: (name, loc) => this.identifier(name, loc),
      sizeOf: (t, loc) => this.typeLayout(this.typeFromName(t, loc), loc).size,
      alignOf: (t, loc) => this.typeLayout(this.typeFromName(t, loc), loc).align,
      intTypeOf: (t, loc) => this.intTypeFromName(t, loc),
      offsetOf: (t, designator, loc) => this.offsetOf(t, designator, loc),
    };
  }

  /** `__builtin_offsetof(t, designator)`: members looked up through anonymous members, as C does. */
  private offsetOf(t: TypeName, designator: readonly (string | bigint)[], loc: SourceLoc): number {
    let type = this.resolve(this.typeFromName(t, loc), loc);
    let offset = 0n;
    for (const step of designator) {
      if (typeof step === 'bigint') {
        if (type.kind !== 'array') throw new HeaderError(loc, 'subscripted value in __builtin_offsetof is not an array');
        offset += step * BigInt(this.typeLayout(type.of, loc).size);
        type = this.resolve(type.of, loc);
        continue;
      }
      if (type.kind !== 'record') throw new HeaderError(loc, `member reference '${step}' in __builtin_offsetof is not into a struct or union`);
      const found = this.findMember(this.recordLayout(type.id, loc), step, loc);
      if (!found) throw new HeaderError(loc, `no member named '${step}' in ${this.ir.records[type.id]!.tag} ${this.ir.records[type.id]!.name ?? '(anonymous)'}`);
      if (found.member.bitWidth !== undefined) throw new HeaderError(loc, `cannot compute offset of bit-field '${step}'`);
      offset += BigInt(found.offset);
      type = found.member.resolved;
    }
    return Number(offset);
  }

  /** Member `name` of a record, searching anonymous members too; its offset from the record's start. */
  private findMember(r: RecordLayout, name: string, loc: SourceLoc): { member: MemberLayout; offset: number } | undefined {
    for (const m of r.members) {
      if (m.field.name === name) return { member: m, offset: m.offset };
      if (m.field.name === undefined && m.resolved.kind === 'record') {
        const inner = this.findMember(this.recordLayout(m.resolved.id, loc), name, loc);
        if (inner) return { member: inner.member, offset: m.offset + inner.offset };
      }
    }
    return undefined;
  }

  /** Checks the unit's `_Static_assert`s on this ABI, as C does: each condition a non-zero integer constant. */
  checkStaticAsserts(): void {
    for (const a of this.ir.staticAsserts ?? []) {
      if (this.evaluate(a.cond).value === 0n) throw new HeaderError(a.loc, `static assertion failed on ${this.abi.name}`);
    }
  }

  /** Evaluates an integer constant expression on this ABI. */
  evaluate(e: Expr): IntValue {
    return evaluate(e, this.env);
  }

  private num(e: Expr, what: string): number {
    const v = this.evaluate(e).value;
    if (v < 0n) throw new HeaderError(e.loc, `${what} is negative (${v})`);
    if (v > MAX_SIZE) throw new HeaderError(e.loc, this.tooLarge(what, v));
    return Number(v);
  }

  /** Why a size of `v` bytes cannot be: too large for the ABI's address space (C), or for our arithmetic. */
  private tooLarge(what: string, v: bigint): string {
    // clang's limit: the size in bits must fit in 64 bits, and in bytes the ABI's pointer width.
    const addressBits = BigInt(Math.min(61, this.abi.scalars.pointer.size * 8));
    if (v >= 1n << addressBits) return `${what} is too large (${v} bytes)`;
    return ourLimit(`${what} (${v})`, `${MAX_SIZE} bytes`);
  }

  /** An alignment as C allows it: a power of two, at most 2^32 (clang). */
  private alignment(e: Expr): number {
    const v = this.evaluate(e).value;
    if (v <= 0n || (v & (v - 1n)) !== 0n) throw new HeaderError(e.loc, `requested alignment is not a power of 2 (${v})`);
    if (v > 1n << 32n) throw new HeaderError(e.loc, 'requested alignment must be 4294967296 bytes or smaller');
    return Number(v);
  }

  // ---- identifiers ------------------------------------------------------------

  private identifier(name: string, loc: SourceLoc): IntValue {
    if (name.startsWith(ABI_BUILTIN_PREFIX)) {
      const ioc = this.abi.ioc;
      const key = name.slice(ABI_BUILTIN_PREFIX.length);
      const table: Record<string, IntValue> = {
        ioc_sizebits: { value: BigInt(ioc.sizeBits), type: this.T.int },
        ioc_dirbits: { value: BigInt(ioc.dirBits), type: this.T.int },
        ioc_none: { value: BigInt(ioc.none), type: this.T.uint },
        ioc_read: { value: BigInt(ioc.read), type: this.T.uint },
        ioc_write: { value: BigInt(ioc.write), type: this.T.uint },
      };
      const v = table[key];
      if (v) return v;
    }
    const e = this.allEnumerators().get(name);
    if (e) return e;
    throw new HeaderError(loc, `'${name}' is not an integer constant here (undefined identifier)`);
  }

  /** Every enumerator of the translation unit (headers included), by name. */
  allEnumerators(): Map<string, ConstantValue> {
    if (this.enumError) throw this.enumError;
    if (this.memo.enumerators.values) return this.memo.enumerators.values;
    const values = new Map<string, ConstantValue>();
    // Set before evaluating: an enumerator's value may name the ones before it.
    this.memo.enumerators.values = values;
    try {
      this.evaluateEnumerators(values);
    } catch (e) {
      // An enumerator C cannot evaluate makes the header invalid: every later use reports it, none sees a partial table.
      this.enumError = e as Error;
      this.memo.enumerators.values = undefined;
      throw e;
    }
    return values;
  }

  private evaluateEnumerators(values: Map<string, ConstantValue>): void {
    for (const decl of this.ir.enums) {
      let next: IntValue = { value: 0n, type: this.T.int };
      for (const en of decl.enumerators ?? []) {
        const v = en.value ? this.evaluate(en.value) : next;
        // An enumerator is an int when its value fits; otherwise it keeps the type of its value (a GNU extension).
        const type = BigInt.asIntN(32, v.value) === v.value ? this.T.int : v.type;
        values.set(en.name, { name: en.name, value: v.value, type, source: 'enum', loc: en.loc });
        next = { value: v.value + 1n, type };
        if (BigInt.asIntN(type.bits, next.value) !== next.value && type.signed) next = { value: next.value, type: this.T.long };
      }
    }
  }

  // ---- types ----------------------------------------------------------------

  private typeFromName(t: TypeName, loc: SourceLoc): CType {
    let base: CType;
    switch (t.kind) {
      case 'builtin':
        base = { kind: 'builtin', name: t.words.join(' ') };
        break;
      case 'typedef':
        base = { kind: 'typedef', name: t.name };
        break;
      case 'tag': {
        if (t.tag === 'enum') {
          const en = this.ir.enums.find((e) => e.name === t.name);
          if (!en) throw new HeaderError(loc, `unknown enum ${t.name}`);
          base = { kind: 'enum', id: en.id };
        } else {
          const rec = this.ir.records.find((r) => r.tag === t.tag && r.name === t.name);
          // A pointer to a struct never declared is still a pointer (`_IOR(..., struct agp_info *)`).
          if (!rec && t.pointer === 0) throw new HeaderError(loc, `unknown ${t.tag} ${t.name}`);
          base = rec ? { kind: 'record', id: rec.id } : { kind: 'builtin', name: 'void' };
        }
        break;
      }
      case 'typeof': {
        if (t.expr.k === 'string') {
          // A string literal is an array of char, its bytes and the terminating NUL: `sizeof("os2.") - 1`.
          const n = Buffer.byteLength(t.expr.value, 'utf8') + 1;
          const length: Expr = { k: 'int', value: BigInt(n), decimal: true, unsigned: false, longs: 0, loc };
          base = { kind: 'array', of: { kind: 'builtin', name: 'char' }, length };
          break;
        }
        const v = this.evaluate(t.expr);
        base = { kind: 'builtin', name: v.type.name };
        break;
      }
    }
    for (let i = 0; i < t.pointer; i++) base = { kind: 'pointer', to: base };
    for (const dim of [...(t.dims ?? [])].reverse()) base = { kind: 'array', of: base, length: dim };
    return base;
  }

  private intTypeFromName(t: TypeName, loc: SourceLoc): IntType {
    const resolved = this.resolve(this.typeFromName(t, loc), loc);
    return this.intTypeOf(resolved, loc);
  }

  /** The integer type of a resolved scalar or enum type. */
  intTypeOf(t: CType, loc: SourceLoc): IntType {
    if (t.kind === 'enum') return this.enumType(this.ir.enums[t.id]!, loc);
    if (t.kind !== 'builtin') throw new HeaderError(loc, 'not an integer type');
    const s = builtinScalar(t.name.split(' '), this.abi);
    if (!s || s.scalar === 'float' || s.scalar === 'double' || s.scalar === 'long double') throw new HeaderError(loc, `'${t.name}' is not an integer type`);
    const T = this.T;
    switch (s.scalar) {
      case '_Bool': return T.bool;
      case 'char': return s.signed ? T.schar : T.uchar;
      case 'short': return s.signed ? T.short : T.ushort;
      case 'int': return s.signed ? T.int : T.uint;
      case 'long': return s.signed ? T.long : T.ulong;
      default: return s.signed ? T.llong : T.ullong;
    }
  }

  private isIntegerName(name: string): boolean {
    const s = builtinScalar(name.split(' '), this.abi);
    return s !== undefined && s.scalar !== 'float' && s.scalar !== 'double' && s.scalar !== 'long double';
  }

  /** Follows typedefs to the underlying type (arrays and pointers keep their element types as written). */
  resolve(t: CType, loc: SourceLoc): CType {
    let guard = 0;
    while (t.kind === 'typedef') {
      const td = this.ir.typedefs.get(t.name);
      if (!td) throw new HeaderError(loc, `unknown type name '${t.name}'`);
      t = td.type;
      if (++guard > 100) throw new HeaderError(loc, `typedef cycle at '${td.name}'`);
    }
    return t;
  }

  /** The integer type an enum is laid out as (GCC/clang rules: int unless the values need more). */
  enumType(decl: EnumDecl, loc: SourceLoc): IntType {
    const cached = this.enumTypes.get(decl.id);
    if (cached) return cached;
    if (!decl.enumerators) throw new HeaderError(loc, `enum ${decl.name ?? '(anonymous)'} is incomplete`);
    const all = this.allEnumerators();
    const values = decl.enumerators.map((e) => all.get(e.name)!.value);
    const min = values.reduce((a, b) => (b < a ? b : a), 0n);
    const max = values.reduce((a, b) => (b > a ? b : a), 0n);
    const T = this.T;
    const negative = min < 0n;
    const candidates = decl.attrs.packed ? [[T.schar, T.uchar], [T.short, T.ushort], [T.int, T.uint], [T.llong, T.ullong]] : [[T.int, T.uint], [T.llong, T.ullong]];
    const fitsIn = (t: IntType) => BigInt.asIntN(t.bits + 1, min) === min && (t.signed ? BigInt.asIntN(t.bits, min) === min && BigInt.asIntN(t.bits, max) === max : BigInt.asUintN(t.bits, max) === max);
    // GCC and clang: unsigned when no enumerator is negative, of the smallest width that holds them all.
    const result = candidates.map(([s, u]) => (negative ? s! : u!)).find(fitsIn) ?? T.ullong;
    this.enumTypes.set(decl.id, result);
    return result;
  }

  /** Size and alignment of a type. Flexible arrays have size 0. */
  typeLayout(t: CType, loc: SourceLoc): TypeLayout {
    switch (t.kind) {
      case 'builtin': {
        const s = builtinScalar(t.name.split(' '), this.abi);
        if (!s) {
          if (t.name === 'void') throw new HeaderError(loc, "'void' has no size");
          throw new HeaderError(loc, `unknown type '${t.name}'`);
        }
        const layout = this.abi.scalars[s.scalar];
        if (layout.size === 0) throw new HeaderError(loc, `'${t.name}' is not supported on ${this.abi.name}`);
        return layout;
      }
      case 'typedef': {
        const td = this.ir.typedefs.get(t.name);
        if (!td) throw new HeaderError(loc, `unknown type name '${t.name}'`);
        const inner = this.typeLayout(td.type, td.loc);
        const aligned = td.attrs.aligned;
        if (aligned === undefined) return inner;
        return { size: inner.size, align: aligned === 'max' ? this.abi.maxAlign : this.alignment(aligned) };
      }
      case 'pointer':
        return this.abi.scalars.pointer;
      case 'function':
        throw new HeaderError(loc, 'a function type has no size');
      case 'enum': {
        const it = this.enumType(this.ir.enums[t.id]!, loc);
        return { size: it.bits / 8, align: it.bits / 8 };
      }
      case 'array': {
        const el = this.typeLayout(t.of, loc);
        const n = t.length === null ? 0 : this.num(t.length, 'array length');
        const size = BigInt(el.size) * BigInt(n);
        if (size > MAX_SIZE) throw new HeaderError(t.length?.loc ?? loc, this.tooLarge('array', size));
        return { size: Number(size), align: el.align };
      }
      case 'record':
        return this.recordLayout(t.id, loc);
    }
  }

  /** The layout of record `id`. */
  recordLayout(id: number, loc?: SourceLoc): RecordLayout {
    const cached = this.records.get(id);
    if (cached) return cached;
    const decl = this.ir.records[id]!;
    const at = loc ?? decl.loc;
    if (!decl.fields) throw new HeaderError(at, `${decl.tag} ${decl.name ?? '(anonymous)'} is incomplete (declared but never defined)`);
    if (this.inProgress.has(id)) throw new HeaderError(at, `${decl.tag} ${decl.name} contains itself`);
    this.inProgress.add(id);
    let layout: RecordLayout;
    try {
      layout = this.computeRecord(decl);
    } finally {
      this.inProgress.delete(id); // a failed layout must not read as "contains itself" later
    }
    this.records.set(id, layout);
    return layout;
  }

  private computeRecord(decl: RecordDecl): RecordLayout {
    const isUnion = decl.tag === 'union';
    const packedRecord = decl.attrs.packed === true;
    let bit = 0; // next free bit (structs)
    let sizeBits = 0;
    let align = 1;
    const members: MemberLayout[] = [];
    const fields = decl.fields!;
    fields.forEach((field, index) => {
      const resolved = this.resolve(field.type, field.loc);
      if (resolved.kind === 'array' && resolved.length === null && (isUnion || index !== fields.length - 1)) {
        // GNU C allows a flexible array in a union or followed by a member only as `[0]`-like: clang accepts it in unions.
        if (!isUnion) throw new HeaderError(field.loc, `flexible array member '${field.name}' is not at the end of ${decl.tag} ${decl.name ?? ''}`.trim());
      }
      const natural = this.typeLayout(field.type, field.loc);
      let explicit = field.attrs.aligned === undefined ? undefined
        : field.attrs.aligned === 'max' ? this.abi.maxAlign : this.alignment(field.attrs.aligned);
      if (field.attrs.alignas !== undefined && this.evaluate(field.attrs.alignas).value !== 0n) {
        const a = this.alignment(field.attrs.alignas);
        if (a < natural.align) throw new HeaderError(field.attrs.alignas.loc, `requested alignment is less than minimum alignment of ${natural.align} for type '${field.spelling}'`);
        explicit = Math.max(explicit ?? 1, a);
      }
      const cap = decl.attrs.pack;
      const packed = packedRecord || field.attrs.packed === true || (cap !== undefined && cap < natural.align && field.bitWidth !== undefined);
      let fieldAlign = packed ? 1 : natural.align;
      if (explicit !== undefined) fieldAlign = Math.max(fieldAlign, explicit);
      if (cap !== undefined) fieldAlign = Math.min(fieldAlign, cap);
      if (field.bitWidth) {
        const label = field.name === undefined ? 'anonymous bit-field' : `bit-field '${field.name}'`;
        if (resolved.kind !== 'enum' && !(resolved.kind === 'builtin' && this.isIntegerName(resolved.name))) {
          throw new HeaderError(field.loc, `${label} has non-integral type '${field.spelling}'`);
        }
        const w = this.evaluate(field.bitWidth).value;
        if (w < 0n) throw new HeaderError(field.bitWidth.loc, `${label} has negative width (${w})`);
        if (w === 0n && field.name !== undefined) throw new HeaderError(field.bitWidth.loc, `named bit-field '${field.name}' has zero width`);
        const unitBits = natural.size * 8;
        if (w > BigInt(unitBits)) throw new HeaderError(field.loc, `width of ${label} (${w} bits) exceeds its type (${unitBits} bits)`);
        const width = Number(w);
        const alignBits = natural.align * 8;
        let at = isUnion ? 0 : bit;
        if (width === 0) at = alignUp(at, alignBits);
        // A bit-field may not straddle a unit of its type's size that starts at a multiple of the type's
        // alignment (i386's `long long` is 4-aligned: a 40-bit field may start at bit 10).
        else if (!packed && (at % alignBits) + width > unitBits) at = alignUp(at, alignBits);
        if (explicit !== undefined) at = alignUp(at, explicit * 8);
        const aligns = field.name !== undefined || explicit !== undefined || (width === 0 && this.abi.zeroWidthBitFieldAligns === true);
        if (aligns) align = Math.max(align, Math.min(packed ? (explicit ?? 1) : natural.align, cap ?? Infinity));
        members.push({ field, offset: Math.floor(at / 8), size: natural.size, align: natural.align, bitOffset: at, bitWidth: width, resolved });
        if (!isUnion) bit = at + width;
        sizeBits = Math.max(sizeBits, at + width);
        return;
      }
      const at = isUnion ? 0 : alignUp(bit, fieldAlign * 8);
      members.push({ field, offset: at / 8, size: natural.size, align: fieldAlign, resolved });
      align = Math.max(align, fieldAlign);
      if (!isUnion) bit = at + natural.size * 8;
      sizeBits = Math.max(sizeBits, at + natural.size * 8);
    });
    if (decl.attrs.aligned !== undefined) {
      align = Math.max(align, decl.attrs.aligned === 'max' ? this.abi.maxAlign : this.alignment(decl.attrs.aligned));
    }
    const size = alignUp(Math.ceil(sizeBits / 8), align);
    if (size > Number(MAX_SIZE)) throw new HeaderError(decl.loc, this.tooLarge(`${decl.tag} ${decl.name ?? '(anonymous)'}`, BigInt(size)));
    return { decl, size, align, members };
  }

  // ---- constants ------------------------------------------------------------

  /**
   * Every integer constant the header itself defines: object-like macros whose
   * expansion is an integer constant expression, and enumerators. Macros that are
   * not (strings, types, empty) are left out; `skipped` says why.
   */
  constants(): ConstantList {
    // Computed once (per group of alike ABIs), never copied: emit and analysis ask several times per ABI,
    // and a header may define tens of thousands.
    return (this.memo.constantList ??= this.computeConstants());
  }

  private computeConstants(): ConstantList {
    const values: ConstantValue[] = [];
    const skipped: { name: string; reason: string }[] = [];
    // Enumerators first and outside the per-macro catch: an invalid enum is an error in the header, not a skipped macro.
    const enumerators = this.allEnumerators();
    for (const m of this.ir.macros) {
      if (!m.value) continue;
      if (m.value.kind !== 'expression') {
        skipped.push({ name: m.name, reason: m.value.kind === 'other' ? m.value.reason : m.value.kind });
        continue;
      }
      try {
        const v = this.evaluate(m.value.expr);
        values.push({ name: m.name, value: v.value, type: v.type, source: 'macro', loc: m.loc });
      } catch (e) {
        skipped.push({ name: m.name, reason: (e as Error).message });
      }
    }
    // A macro named like an enumerator (`#define __TC_MQPRIO_MODE_MAX (__TC_MQPRIO_MODE_MAX - 1)` after the enum,
    // linux/pkt_sched.h) is what the name means in C from then on: its value, not the enumerator's.
    const macroNames = new Set(values.map((v) => v.name));
    for (const v of enumerators.values()) if (v.loc.file === this.ir.file && !macroNames.has(v.name)) values.push(v);
    return { values, skipped };
  }
}

function alignUp(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}
