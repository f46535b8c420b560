/**
 * A Pratt parser for C constant expressions over preprocessed tokens. It needs to
 * know which identifiers are typedef names, to tell `(__u32)x` (a cast) from
 * `(x)` (a parenthesised expression).
 */
import { HeaderError, type SourceLoc } from '../errors.js';
import type { Token } from '../source/lexer.js';
import type { BinaryOp, Expr, TypeName } from './ast.js';
import { MAX_BRACKET_DEPTH, MAX_EXPR_DEPTH, ourLimit } from '../limits.js';

/** What the parser needs to know about the surrounding declarations. */
export interface ParseContext {
  isTypeName(name: string): boolean;
  /** The bracket limit is ours, not the compiler's (clang has none in `#if`). */
  readonly bracketLimitIsOurs?: boolean;
}

const BINARY_PRECEDENCE: Record<string, number> = {
  ',': 1, '||': 4, '&&': 5, '|': 6, '^': 7, '&': 8, '==': 9, '!=': 9,
  '<': 10, '>': 10, '<=': 10, '>=': 10, '<<': 11, '>>': 11, '+': 12, '-': 12, '*': 13, '/': 13, '%': 13,
};
const TYPE_WORDS = new Set(['void', 'char', 'short', 'int', 'long', 'signed', 'unsigned', '_Bool', 'float', 'double', '__signed__', '__signed', '__unsigned__']);
const QUALIFIERS = new Set(['const', 'volatile', '__const', '__volatile__', 'restrict', '__restrict']);

/** Parses all of `tokens` as one expression (the comma operator included). */
export function parseExpression(tokens: readonly Token[], ctx: ParseContext): Expr {
  if (tokens.length === 0) throw new Error('empty expression');
  checkBracketDepth(tokens, ctx.bracketLimitIsOurs);
  const p = new Parser(tokens, ctx);
  const e = p.expression(0);
  p.expectEnd();
  return e;
}

/** Parses a type name (`unsigned long`, `struct foo *`, `__u32`). */
export function parseTypeName(tokens: readonly Token[], ctx: ParseContext): TypeName {
  checkBracketDepth(tokens);
  const p = new Parser(tokens, ctx);
  const t = p.typeName();
  p.expectEnd();
  return t;
}

/** C compilers cap bracket nesting (clang: 256); so do we, before any recursion. */
function checkBracketDepth(tokens: readonly Token[], ours = false): void {
  let depth = 0;
  for (const t of tokens) {
    if (t.kind !== 'punct') continue;
    if (t.text === '(' || t.text === '[') {
      if (++depth > MAX_BRACKET_DEPTH) {
        throw new HeaderError(t.loc, ours ? ourLimit('bracket nesting', `${MAX_BRACKET_DEPTH} levels`) : `bracket nesting level exceeded maximum of ${MAX_BRACKET_DEPTH}`);
      }
    } else if (t.text === ')' || t.text === ']') depth--;
  }
}

/** The depth of an expression tree, from its children's (operands nest, so the tree's depth bounds every walk over it). */
const depths = new WeakMap<Expr, number>();
function depthOf(e: Expr): number {
  return depths.get(e) ?? 1;
}

class Parser {
  private i = 0;
  /** Recursion depth of the parser's own calls: `?:` chains and unary operators nest without brackets. */
  private nesting = 0;

  /** Records `e`'s tree depth; throws where the tree would be deeper than any walk over it may recurse. */
  private node<E extends Expr>(e: E, ...children: Expr[]): E {
    let d = 0;
    for (const c of children) d = Math.max(d, depthOf(c));
    if (d + 1 > MAX_EXPR_DEPTH) throw new HeaderError(e.loc, ourLimit('expression depth', `${MAX_EXPR_DEPTH} nested operators`));
    if (d > 0) depths.set(e, d + 1);
    return e;
  }

  private enter(): void {
    if (++this.nesting > MAX_EXPR_DEPTH) throw new HeaderError(this.loc(), ourLimit('expression depth', `${MAX_EXPR_DEPTH} nested operators`));
  }
  constructor(private readonly tokens: readonly Token[], private readonly ctx: ParseContext) {}

  private peek(offset = 0): Token | undefined { return this.tokens[this.i + offset]; }
  private loc(): SourceLoc { return (this.peek() ?? this.tokens[this.tokens.length - 1]!).loc; }
  private fail(what: string): never {
    const t = this.peek();
    throw new HeaderError(this.loc(), `${what}, found ${t ? `'${t.text}'` : 'end of expression'}`);
  }
  private take(text: string): Token {
    const t = this.peek();
    if (t?.text !== text) this.fail(`expected '${text}'`);
    this.i++;
    return t!;
  }

  expectEnd(): void {
    if (this.i < this.tokens.length) this.fail('expected end of expression');
  }

  expression(minPrec: number): Expr {
    this.enter();
    try {
      return this.binary(minPrec);
    } finally {
      this.nesting--;
    }
  }

  private binary(minPrec: number): Expr {
    let left = this.unary();
    for (;;) {
      const t = this.peek();
      if (!t || t.kind !== 'punct') break;
      if (t.text === '?' && minPrec <= 3) {
        this.i++;
        const whenTrue = this.expression(1);
        this.take(':');
        const whenFalse = this.expression(3);
        left = this.node({ k: 'cond', c: left, t: whenTrue, f: whenFalse, loc: t.loc }, left, whenTrue, whenFalse);
        continue;
      }
      const prec = BINARY_PRECEDENCE[t.text];
      if (prec === undefined || prec < minPrec) break;
      this.i++;
      const right = this.expression(prec + 1);
      left = this.node({ k: 'binary', op: t.text as BinaryOp, l: left, r: right, loc: t.loc }, left, right);
    }
    return left;
  }

  private startsTypeName(offset: number): boolean {
    const t = this.peek(offset);
    if (!t || t.kind !== 'ident') return false;
    return TYPE_WORDS.has(t.text) || QUALIFIERS.has(t.text) || t.text === 'struct' || t.text === 'union' || t.text === 'enum'
      || t.text === '__typeof__' || t.text === 'typeof' || this.ctx.isTypeName(t.text);
  }

  private unary(): Expr {
    this.enter();
    try {
      return this.unaryBody();
    } finally {
      this.nesting--;
    }
  }

  private unaryBody(): Expr {
    const t = this.peek();
    if (!t) this.fail('expected an expression');
    const loc = t!.loc;
    if (t!.kind === 'punct' && (t!.text === '-' || t!.text === '+' || t!.text === '~' || t!.text === '!')) {
      this.i++;
      const e = this.unary();
      return this.node({ k: 'unary', op: t!.text as '-' | '+' | '~' | '!', e, loc }, e);
    }
    if (t!.text === '(' && this.startsTypeName(1)) {
      this.i++;
      const type = this.typeName();
      this.take(')');
      const e = this.unary();
      return this.node({ k: 'cast', type, e, loc }, e);
    }
    if (t!.kind === 'ident' && (t!.text === 'sizeof' || t!.text === '_Alignof' || t!.text === '__alignof__' || t!.text === 'alignof')) {
      this.i++;
      const k = t!.text === 'sizeof' ? 'sizeof' : 'alignof';
      if (this.peek()?.text === '(' && this.startsTypeName(1)) {
        this.i++;
        const type = this.typeName();
        this.take(')');
        return { k, type, loc };
      }
      const e = this.unary();
      return this.node({ k, type: { kind: 'typeof', expr: e, pointer: 0 }, loc }, e);
    }
    return this.postfix();
  }

  private postfix(): Expr {
    const t = this.peek()!;
    this.i++;
    switch (t.kind) {
      case 'number': return parseIntegerLiteral(t);
      case 'char': return { k: 'char', value: parseCharLiteral(t), loc: t.loc };
      case 'string': {
        let value = unquote(t);
        while (this.peek()?.kind === 'string') value += unquote(this.tokens[this.i++]!);
        return { k: 'string', value, loc: t.loc };
      }
      case 'ident': {
        if (t.text === '__builtin_offsetof' && this.peek()?.text === '(') return this.offsetof(t);
        if (this.peek()?.text === '(') {
          this.i++;
          const args: Expr[] = [];
          while (this.peek()?.text !== ')') {
            args.push(this.expression(2));
            if (this.peek()?.text === ',') this.i++;
            else if (this.peek()?.text !== ')') this.fail(`expected ',' or ')' in call of ${t.text}`);
          }
          this.i++;
          return this.node({ k: 'call', name: t.text, args, loc: t.loc }, ...args);
        }
        return { k: 'ident', name: t.text, loc: t.loc };
      }
      default:
        if (t.text === '(') {
          const e = this.expression(0);
          this.take(')');
          return e;
        }
        this.i--;
        return this.fail('expected an expression');
    }
  }

  /** `__builtin_offsetof(type-name, member-designator)`, after its name. */
  private offsetof(t: Token): Expr {
    this.take('(');
    const type = this.typeName();
    this.take(',');
    const designator: (string | Expr)[] = [];
    for (;;) {
      const name = this.peek();
      if (name?.kind !== 'ident') this.fail('expected a member name in __builtin_offsetof');
      this.i++;
      designator.push(name!.text);
      while (this.peek()?.text === '[') {
        this.i++;
        designator.push(this.expression(0));
        this.take(']');
      }
      if (this.peek()?.text !== '.') break;
      this.i++;
    }
    this.take(')');
    return this.node({ k: 'offsetof', type, designator, loc: t.loc }, ...designator.filter((d): d is Expr => typeof d !== 'string'));
  }

  typeName(): TypeName {
    const words: string[] = [];
    let named: TypeName | undefined;
    for (;;) {
      const t = this.peek();
      if (!t || t.kind !== 'ident') break;
      if (QUALIFIERS.has(t.text)) { this.i++; continue; }
      if (t.text === 'struct' || t.text === 'union' || t.text === 'enum') {
        const name = this.peek(1);
        if (name?.kind !== 'ident') { this.i++; this.fail(`expected a ${t.text} tag`); }
        this.i += 2;
        named = { kind: 'tag', tag: t.text, name: name!.text, pointer: 0 };
        continue;
      }
      if (t.text === '__typeof__' || t.text === 'typeof') {
        this.i++;
        this.take('(');
        const expr = this.expression(0);
        this.take(')');
        named = { kind: 'typeof', expr, pointer: 0 };
        continue;
      }
      if (TYPE_WORDS.has(t.text)) { words.push(t.text.replace(/^__(signed|unsigned)(__)?$/, '$1')); this.i++; continue; }
      if (!named && words.length === 0 && this.ctx.isTypeName(t.text)) { named = { kind: 'typedef', name: t.text, pointer: 0 }; this.i++; continue; }
      break;
    }
    let pointer = 0;
    while (this.peek()?.text === '*') {
      pointer++;
      this.i++;
      while (this.peek() && QUALIFIERS.has(this.peek()!.text)) this.i++;
    }
    const dims: Expr[] = [];
    while (this.peek()?.text === '[') {
      this.i++;
      dims.push(this.expression(2));
      this.take(']');
    }
    const extra = dims.length > 0 ? { dims } : {};
    if (named) return { ...named, pointer, ...extra };
    if (words.length === 0) this.fail('expected a type name');
    return { kind: 'builtin', words, pointer, ...extra };
  }
}

/** Parses a C integer literal token (decimal, hex, octal, binary; U/L/LL suffixes). */
export function parseIntegerLiteral(t: Token): Expr {
  const m = /^(0[xX][0-9a-fA-F]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)([uUlL]*)$/.exec(t.text);
  if (!m) throw new HeaderError(t.loc, `'${t.text}' is not an integer constant`);
  const digits = m[1]!;
  const suffix = m[2]!.toLowerCase();
  if (!/^(u?(l|ll)?|(l|ll)u)$/.test(suffix)) throw new HeaderError(t.loc, `invalid suffix '${m[2]}' on integer constant`);
  const value = /^0[0-7]+$/.test(digits) ? BigInt('0o' + digits.slice(1)) : BigInt(digits);
  if (value >= 1n << 64n) throw new HeaderError(t.loc, 'integer literal is too large to be represented in any integer type');
  const longs = suffix.includes('ll') ? 2 : suffix.includes('l') ? 1 : 0;
  return { k: 'int', value, decimal: /^[1-9]/.test(digits) || digits === '0', unsigned: suffix.includes('u'), longs, loc: t.loc };
}

const SIMPLE_ESCAPES: Record<string, number> = { n: 10, t: 9, r: 13, '0': 0, a: 7, b: 8, f: 12, v: 11, '\\': 92, "'": 39, '"': 34, '?': 63, e: 27 };

function decodeEscapes(body: string, loc: SourceLoc): number[] {
  const out: number[] = [];
  for (let i = 0; i < body.length; i++) {
    if (body[i] !== '\\') { out.push(body.codePointAt(i)!); continue; }
    const c = body[++i]!;
    if (c === 'x') {
      const m = /^[0-9a-fA-F]+/.exec(body.slice(i + 1));
      if (!m) throw new HeaderError(loc, 'invalid \\x escape');
      out.push(parseInt(m[0], 16));
      i += m[0].length;
    } else if (/[0-7]/.test(c)) {
      const m = /^[0-7]{1,3}/.exec(body.slice(i))!;
      out.push(parseInt(m[0], 8));
      i += m[0].length - 1;
    } else if (c in SIMPLE_ESCAPES) out.push(SIMPLE_ESCAPES[c]!);
    else throw new HeaderError(loc, `unknown escape sequence '\\${c}'`);
  }
  return out;
}

/** The code of a single-character literal (multi-character literals are rejected). */
function parseCharLiteral(t: Token): number {
  if (!t.text.startsWith("'")) throw new HeaderError(t.loc, `wide character literal ${t.text} is not supported`);
  const codes = decodeEscapes(t.text.slice(1, -1), t.loc);
  if (codes.length !== 1) throw new HeaderError(t.loc, `multi-character literal ${t.text} is not supported`);
  return codes[0]!;
}

function unquote(t: Token): string {
  return String.fromCodePoint(...decodeEscapes(t.text.replace(/^(u8|L|u|U)?"/, '').slice(0, -1), t.loc));
}
