/**
 * C constant expressions, as parsed from macro bodies, array sizes and enum
 * values. ABI-independent: literals keep their spelling-derived facts (radix,
 * suffix) and the per-ABI evaluator gives them C types.
 */
import type { SourceLoc } from '../errors.js';

/** A C type name, as it appears in casts and `sizeof(type)`. */
export type TypeName = (
  | { readonly kind: 'builtin'; readonly words: readonly string[]; readonly pointer: number }
  | { readonly kind: 'typedef'; readonly name: string; readonly pointer: number }
  | { readonly kind: 'tag'; readonly tag: 'struct' | 'union' | 'enum'; readonly name: string; readonly pointer: number }
  | { readonly kind: 'typeof'; readonly expr: Expr; readonly pointer: number }
) & {
  /** Array dimensions of an abstract declarator, outermost first: `__u8[16]`, `struct x[2][3]`. */
  readonly dims?: readonly Expr[];
};

/** An expression node. */
export type Expr =
  | { readonly k: 'int'; readonly value: bigint; readonly decimal: boolean; readonly unsigned: boolean; readonly longs: 0 | 1 | 2; readonly loc: SourceLoc }
  | { readonly k: 'char'; readonly value: number; readonly loc: SourceLoc }
  | { readonly k: 'string'; readonly value: string; readonly loc: SourceLoc }
  | { readonly k: 'ident'; readonly name: string; readonly loc: SourceLoc }
  | { readonly k: 'unary'; readonly op: '-' | '+' | '~' | '!'; readonly e: Expr; readonly loc: SourceLoc }
  | { readonly k: 'binary'; readonly op: BinaryOp; readonly l: Expr; readonly r: Expr; readonly loc: SourceLoc }
  | { readonly k: 'cond'; readonly c: Expr; readonly t: Expr; readonly f: Expr; readonly loc: SourceLoc }
  | { readonly k: 'cast'; readonly type: TypeName; readonly e: Expr; readonly loc: SourceLoc }
  | { readonly k: 'sizeof'; readonly type: TypeName; readonly loc: SourceLoc }
  | { readonly k: 'alignof'; readonly type: TypeName; readonly loc: SourceLoc }
  | { readonly k: 'call'; readonly name: string; readonly args: readonly Expr[]; readonly loc: SourceLoc }
  /** `__builtin_offsetof(type, a.b[2].c)` (what `<stddef.h>`'s `offsetof` expands to): member names and array indices. */
  | { readonly k: 'offsetof'; readonly type: TypeName; readonly designator: readonly (string | Expr)[]; readonly loc: SourceLoc };

/** Binary operators, C precedence handled by the parser. */
export type BinaryOp = '*' | '/' | '%' | '+' | '-' | '<<' | '>>' | '<' | '>' | '<=' | '>=' | '==' | '!=' | '&' | '^' | '|' | '&&' | '||' | ',';

/** Identifiers an expression refers to (for dependency listings and flag grouping). */
export function identifiersOf(e: Expr, into: Set<string> = new Set()): Set<string> {
  switch (e.k) {
    case 'ident': into.add(e.name); break;
    case 'unary': identifiersOf(e.e, into); break;
    case 'binary': identifiersOf(e.l, into); identifiersOf(e.r, into); break;
    case 'cond': identifiersOf(e.c, into); identifiersOf(e.t, into); identifiersOf(e.f, into); break;
    case 'cast': identifiersOf(e.e, into); break;
    case 'call': e.args.forEach((a) => identifiersOf(a, into)); break;
    case 'offsetof': e.designator.forEach((d) => { if (typeof d !== 'string') identifiersOf(d, into); }); break;
    default: break;
  }
  return into;
}
