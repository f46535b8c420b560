/**
 * Evaluates C integer constant expressions exactly as C does: typed values,
 * integer promotions, the usual arithmetic conversions, wrap-around at the
 * type's width (so `(1 << 31)` is the int -2147483648), and literal typing from
 * radix and suffix. ABI facts (the width of `long`, signedness of `char`, sizes of
 * types, identifiers' values) come from an {@link EvalEnv}.
 */
import { HeaderError, type SourceLoc } from '../errors.js';
import type { Expr, TypeName } from './ast.js';

/** An integer type: width in bits, signedness, and conversion rank. */
export interface IntType {
  readonly bits: number;
  readonly signed: boolean;
  /** 0 _Bool, 1 char, 2 short, 3 int, 4 long, 5 long long. */
  readonly rank: number;
  /** C spelling, for messages. */
  readonly name: string;
}

/** A typed integer value. */
export interface IntValue {
  readonly value: bigint;
  readonly type: IntType;
}

/** What the evaluator asks of its surroundings. */
export interface EvalEnv {
  /** Width of `long` (32 or 64). */
  readonly longBits: number;
  readonly charSigned: boolean;
  /** The value of an identifier (enum constant, ABI built-in); throws if it has none. */
  ident(name: string, loc: SourceLoc): IntValue;
  sizeOf(type: TypeName, loc: SourceLoc): number;
  alignOf(type: TypeName, loc: SourceLoc): number;
  /** The integer type a type name denotes; throws for non-integer types. */
  intTypeOf(type: TypeName, loc: SourceLoc): IntType;
  /** `__builtin_offsetof(type, designator)`: member names and (evaluated) array indices. */
  offsetOf(type: TypeName, designator: readonly (string | bigint)[], loc: SourceLoc): number;
}

/** C's integer types for an ABI where `long` is `longBits` wide. */
export function intTypes(longBits: number) {
  const t = (name: string, bits: number, signed: boolean, rank: number): IntType => ({ name, bits, signed, rank });
  return {
    bool: t('_Bool', 8, false, 0),
    schar: t('signed char', 8, true, 1), uchar: t('unsigned char', 8, false, 1),
    short: t('short', 16, true, 2), ushort: t('unsigned short', 16, false, 2),
    int: t('int', 32, true, 3), uint: t('unsigned int', 32, false, 3),
    long: t('long', longBits, true, 4), ulong: t('unsigned long', longBits, false, 4),
    llong: t('long long', 64, true, 5), ullong: t('unsigned long long', 64, false, 5),
  };
}

/** Reduces `v` to the range of `type`, as a conversion to it does (two's complement). */
export function wrap(v: bigint, type: IntType): bigint {
  return type.signed ? BigInt.asIntN(type.bits, v) : BigInt.asUintN(type.bits, v);
}

const fits = (v: bigint, t: IntType) => wrap(v, t) === v;

/** Evaluates `e` to a typed integer; throws HeaderError where it is not an integer constant expression. */
export function evaluate(e: Expr, env: EvalEnv): IntValue {
  const T = intTypes(env.longBits);
  const int = (value: bigint | boolean): IntValue => ({ value: typeof value === 'boolean' ? (value ? 1n : 0n) : value, type: T.int });
  const promote = (t: IntType): IntType => (t.rank < 3 ? T.int : t);
  const common = (a: IntType, b: IntType): IntType => {
    a = promote(a); b = promote(b);
    if (a.signed === b.signed) return a.rank >= b.rank ? a : b;
    const [u, s] = a.signed ? [b, a] : [a, b];
    if (u.rank >= s.rank) return u;
    if (s.bits > u.bits) return s;
    return Object.values(T).find((t) => !t.signed && t.rank === s.rank)!;
  };
  const fail = (loc: SourceLoc, msg: string): never => { throw new HeaderError(loc, msg); };
  // Signed overflow is undefined behaviour, so the expression is not an integer constant expression
  // (C11 6.6p4): compilers reject it where a constant is required. Unsigned arithmetic wraps.
  const arith = (v: bigint, t: IntType, loc: SourceLoc): IntValue => {
    if (t.signed && !fits(v, t)) fail(loc, `overflow in expression: ${v} does not fit in ${t.name}, so this is not an integer constant expression`);
    return { value: wrap(v, t), type: t };
  };

  const ev = (x: Expr): IntValue => {
    switch (x.k) {
      case 'int': {
        const candidates = literalTypes(x, T);
        const type = candidates.find((t) => fits(x.value, t)) ?? T.ullong;
        return { value: wrap(x.value, type), type };
      }
      case 'char':
        return int(env.charSigned ? BigInt.asIntN(8, BigInt(x.value & 0xff)) : BigInt(x.value & 0xff));
      case 'string':
        return fail(x.loc, 'a string literal is not an integer constant');
      case 'ident':
        return env.ident(x.name, x.loc);
      case 'call':
        // GCC's __builtin_constant_p folds to 1 for an integer constant expression, else 0 (and is then
        // itself one): the kernel's byte-swap macros choose their constant form by it.
        if (x.name === '__builtin_constant_p' && x.args.length === 1) {
          try { ev(x.args[0]!); return int(true); } catch (err) { if (err instanceof HeaderError) return int(false); throw err; }
        }
        return fail(x.loc, `'${x.name}(...)' is not an integer constant (unknown function-like macro?)`);
      case 'unary': {
        const a = ev(x.e);
        const t = promote(a.type);
        switch (x.op) {
          case '+': return { value: wrap(a.value, t), type: t };
          case '-': return arith(-wrap(a.value, t), t, x.loc);
          case '~': return { value: wrap(~a.value, t), type: t };
          case '!': return int(a.value === 0n);
        }
        break;
      }
      case 'binary': {
        if (x.op === '&&') { const a = ev(x.l); return a.value === 0n ? int(false) : int(ev(x.r).value !== 0n); }
        if (x.op === '||') { const a = ev(x.l); return a.value !== 0n ? int(true) : int(ev(x.r).value !== 0n); }
        if (x.op === ',') { ev(x.l); return ev(x.r); }
        const a = ev(x.l);
        const b = ev(x.r);
        if (x.op === '<<' || x.op === '>>') {
          const t = promote(a.type);
          if (b.value < 0n || b.value >= BigInt(t.bits)) fail(x.loc, `shift count ${b.value} is out of range for ${t.name}`);
          const value = x.op === '<<' ? a.value << b.value : wrap(a.value, t) >> b.value;
          return { value: wrap(value, t), type: t };
        }
        const t = common(a.type, b.type);
        const l = wrap(a.value, t);
        const r = wrap(b.value, t);
        switch (x.op) {
          case '+': return arith(l + r, t, x.loc);
          case '-': return arith(l - r, t, x.loc);
          case '*': return arith(l * r, t, x.loc);
          case '/': if (r === 0n) fail(x.loc, 'division by zero'); return arith(l / r, t, x.loc);
          // C11 6.5.5p6: a % b is defined only where a / b is, so INT_MIN % -1 overflows too.
          case '%': if (r === 0n) fail(x.loc, 'remainder by zero'); arith(l / r, t, x.loc); return { value: wrap(l % r, t), type: t };
          case '&': return { value: wrap(l & r, t), type: t };
          case '|': return { value: wrap(l | r, t), type: t };
          case '^': return { value: wrap(l ^ r, t), type: t };
          case '<': return int(l < r);
          case '>': return int(l > r);
          case '<=': return int(l <= r);
          case '>=': return int(l >= r);
          case '==': return int(l === r);
          case '!=': return int(l !== r);
        }
        break;
      }
      case 'cond': {
        // The operand not chosen is not evaluated, so it may be what a constant cannot hold (a call:
        // `__builtin_constant_p(x) ? ___constant_swab16(x) : __fswab16(x)`, C11 6.6p3); its type still
        // joins the result's, taken as the chosen operand's where it cannot be evaluated.
        const c = ev(x.c);
        const [chosen, other] = c.value !== 0n ? [x.t, x.f] : [x.f, x.t];
        const a = ev(chosen);
        let b: IntValue;
        try { b = ev(other); } catch (err) { if (!(err instanceof HeaderError)) throw err; b = a; }
        const t = common(a.type, b.type);
        return { value: wrap(a.value, t), type: t };
      }
      case 'cast': {
        if (x.type.pointer > 0) fail(x.loc, 'a cast to a pointer type is not an integer constant');
        const t = env.intTypeOf(x.type, x.loc);
        const a = ev(x.e);
        return { value: t.rank === 0 ? (a.value !== 0n ? 1n : 0n) : wrap(a.value, t), type: t };
      }
      case 'sizeof':
        return { value: BigInt(env.sizeOf(x.type, x.loc)), type: T.ulong };
      case 'alignof':
        return { value: BigInt(env.alignOf(x.type, x.loc)), type: T.ulong };
      case 'offsetof':
        return { value: BigInt(env.offsetOf(x.type, x.designator.map((d) => (typeof d === 'string' ? d : ev(d).value)), x.loc)), type: T.ulong };
    }
    return fail(x.loc, 'not an integer constant expression');
  };
  return ev(e);
}

/** The types an integer literal may take, in C's order (C11 6.4.4.1). */
function literalTypes(x: Extract<Expr, { k: 'int' }>, T: ReturnType<typeof intTypes>): IntType[] {
  const signedFirst = [T.int, T.long, T.llong].filter((t) => t.rank >= 3 + x.longs);
  if (x.unsigned) return [T.uint, T.ulong, T.ullong].filter((t) => t.rank >= 3 + x.longs);
  if (x.decimal) return signedFirst;
  return [T.int, T.uint, T.long, T.ulong, T.llong, T.ullong].filter((t) => t.rank >= 3 + x.longs);
}
