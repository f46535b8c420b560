/**
 * The intermediate representation: what a header declares, independent of any
 * ABI. Sizes, offsets and values are computed from it per ABI (layout/).
 */
import type { SourceLoc } from '../errors.js';
import type { Comment, Token } from '../source/lexer.js';
import type { Expr } from '../expr/ast.js';

/** A C type, as declared. Records and enums are referenced by id. */
export type CType =
  | { readonly kind: 'builtin'; readonly name: string }
  | { readonly kind: 'typedef'; readonly name: string }
  | { readonly kind: 'record'; readonly id: number }
  | { readonly kind: 'enum'; readonly id: number }
  | { readonly kind: 'pointer'; readonly to: CType }
  | { readonly kind: 'array'; readonly of: CType; readonly length: Expr | null }
  | { readonly kind: 'function' };

/** Layout attributes (`__attribute__((packed, aligned(n)))`). */
export interface LayoutAttributes {
  readonly packed?: boolean;
  /** `aligned(n)`; `'max'` for a bare `aligned`. */
  readonly aligned?: Expr | 'max';
  /** `_Alignas(n)` (a type's alignment as `_Alignof(type)`): may not lower the member's natural alignment. */
  readonly alignas?: Expr;
  /** `#pragma pack(n)` in effect where a record is defined: member alignment capped at n. */
  readonly pack?: number;
}

/** A struct or union member. `name` is undefined for an anonymous struct/union member. */
export interface Field {
  readonly name?: string;
  readonly type: CType;
  readonly bitWidth?: Expr;
  readonly attrs: LayoutAttributes;
  readonly loc: SourceLoc;
  /** The C type as written (`__u32`, `struct vfio_info_cap_header`, `__u8[16]`). */
  readonly spelling: string;
}

/** A struct or union definition (or a forward declaration, `fields` undefined). */
export interface RecordDecl {
  readonly id: number;
  readonly tag: 'struct' | 'union';
  /** The tag; undefined for an anonymous record. */
  readonly name?: string;
  fields?: Field[];
  attrs: LayoutAttributes;
  /** Where it is defined; where first named while only declared (`struct msgbuf *` in linux/ipc.h before linux/msg.h defines it). */
  loc: SourceLoc;
  /** Line of the closing brace, for definitions. */
  endLine?: number;
}

/** One enumerator. */
export interface Enumerator {
  readonly name: string;
  readonly value?: Expr;
  readonly loc: SourceLoc;
}

/** An enum definition. */
export interface EnumDecl {
  readonly id: number;
  readonly name?: string;
  enumerators?: Enumerator[];
  attrs: LayoutAttributes;
  readonly loc: SourceLoc;
}

/** A typedef. */
export interface TypedefDecl {
  readonly name: string;
  readonly type: CType;
  readonly attrs: LayoutAttributes;
  readonly loc: SourceLoc;
}

/** What a macro's replacement list is, once expanded. */
export type MacroValue =
  | { readonly kind: 'expression'; readonly expr: Expr }
  | { readonly kind: 'string'; readonly value: string }
  | { readonly kind: 'empty' }
  | { readonly kind: 'other'; readonly reason: string };

/** A `#define` of the header. */
export interface MacroDecl {
  readonly name: string;
  readonly params?: readonly string[];
  readonly variadic: boolean;
  /** The replacement list as written. */
  readonly body: string;
  readonly bodyTokens: readonly Token[];
  /** Object-like macros only: the fully expanded replacement, parsed. */
  readonly value?: MacroValue;
  readonly loc: SourceLoc;
}

/** Everything one header declares. */
export interface HeaderIR {
  /** Absolute path of the header. */
  readonly file: string;
  readonly sha256: string;
  /** Every record of the translation unit (includes too); `file` of `loc` tells where it is. */
  readonly records: readonly RecordDecl[];
  readonly enums: readonly EnumDecl[];
  readonly typedefs: ReadonlyMap<string, TypedefDecl>;
  /** Macros defined by the header itself, in order. */
  readonly macros: readonly MacroDecl[];
  readonly comments: readonly Comment[];
  /** The header tests ABI-dependent macros (`__BITS_PER_LONG`, `__x86_64__`...): its IR holds for `abi` only. */
  readonly abiSensitive: boolean;
  /** The ABI this IR was preprocessed for; undefined for an ABI-independent IR. */
  readonly abi?: string;
  /** `_Static_assert(cond, "...")` declarations of the unit (includes too): each cond must be non-zero on an ABI. */
  readonly staticAsserts?: readonly { readonly cond: Expr; readonly loc: SourceLoc }[];
}

/** True when a declaration was written in the header itself (not an include or the built-ins). */
export function isOwn(ir: HeaderIR, loc: SourceLoc): boolean {
  return loc.file === ir.file;
}
