/**
 * Parse: the preprocessed token stream of a header, through tree-sitter-c, into
 * the IR. tree-sitter gives the declaration structure; expressions (array sizes,
 * enum values, bit widths, attribute arguments, macro bodies) are parsed by our
 * own expression parser from the tokens tree-sitter's nodes cover.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type TreeSitter from 'tree-sitter';
import { HeaderError, type SourceLoc } from '../errors.js';
import type { Token } from '../source/lexer.js';
import { FileCache, preprocess, type PreprocessedUnit } from '../preprocess/preprocessor.js';
import { ABIS, COMMON_PREDEFINES, abiPredefines, abiSensitiveNames, type Abi } from '../abi/abis.js';
import { parseExpression, parseTypeName } from '../expr/parser.js';
import type { Expr } from '../expr/ast.js';
import { MAX_BRACKET_DEPTH, MAX_TYPE_DEPTH, ourLimit } from '../limits.js';
import type {
  CType, EnumDecl, Enumerator, Field, HeaderIR, LayoutAttributes, MacroDecl, MacroValue, RecordDecl, TypedefDecl,
} from '../ir/types.js';

type SyntaxNode = TreeSitter.SyntaxNode;

const require = createRequire(import.meta.url);
let parser: TreeSitter | undefined;
function treeSitter(): TreeSitter {
  if (!parser) {
    const Parser = require('tree-sitter') as typeof TreeSitter;
    parser = new Parser();
    parser.setLanguage(require('tree-sitter-c'));
  }
  return parser;
}

/** Brackets nested deeper than C compilers accept (clang's bracket depth), checked before any recursive walk. */
function checkNesting(tokens: readonly Token[]): void {
  let depth = 0;
  for (const t of tokens) {
    if (t.kind !== 'punct') continue;
    if (t.text === '(' || t.text === '[' || t.text === '{') {
      if (++depth > MAX_BRACKET_DEPTH) throw new HeaderError(t.loc, `bracket nesting level exceeded maximum of ${MAX_BRACKET_DEPTH}`);
    } else if (t.text === ')' || t.text === ']' || t.text === '}') depth = Math.max(0, depth - 1);
  }
}

/** The keywords that start an attribute tree-sitter-c parses as an `attribute_specifier` or `alignas_qualifier`. */
const ATTRIBUTE_WORDS = new Set(['__attribute__', '__attribute', '_Alignas', 'alignas']);

/** Attributes that do not change a layout, accepted and ignored. */
const NEUTRAL_ATTRIBUTES = new Set([
  'deprecated', '__deprecated__', 'unused', '__unused__', 'nonstring', '__nonstring__', 'counted_by', '__counted_by__',
  'may_alias', '__may_alias__', 'designated_init', 'aligned_le', 'preserve_access_index', 'btf_type_tag', 'btf_decl_tag',
]);

/** GCC's predefined 128-bit integer type names, as builtin type words. */
const INT128_TYPES: Readonly<Record<string, string>> = { __int128: '__int128', __int128_t: '__int128', __uint128_t: 'unsigned __int128' };

/** Options of {@link parseHeader}. */
export interface ParseOptions {
  readonly includeDirs?: readonly string[];
  /** Preprocess for this ABI (its predefined macros); by default ABI-independently. */
  readonly abi?: Abi;
}

/**
 * Reads, preprocesses and parses the header at `path` into the IR. Without an
 * ABI the result says whether the header is ABI-dependent (`abiSensitive`); such
 * a header must be parsed per ABI (see {@link parseHeaderForAbis}).
 */
export function parseHeader(path: string, options: ParseOptions = {}): HeaderIR {
  return new DeclarationParser(preprocessFor(path, options), options.abi?.name).run();
}

function preprocessFor(path: string, options: ParseOptions, files?: FileCache): PreprocessedUnit {
  return preprocess(path, {
    files,
    includeDirs: options.includeDirs,
    predefines: options.abi ? abiPredefines(options.abi) : COMMON_PREDEFINES,
    sensitiveNames: abiSensitiveNames(),
    multiarch: options.abi?.debianTriplet,
    multiarchFolders: MULTIARCH_FOLDERS,
  });
}

const MULTIARCH_FOLDERS = ABIS.map((a) => a.debianTriplet);

/**
 * The IR of a header for each ABI: one shared IR, unless the header's `#if`s depend on the ABI.
 * An ABI-dependent header is preprocessed per ABI, and parsed once per distinct result: ABIs whose
 * token streams, `#pragma pack`s and macros come out the same share one parse (tree-sitter and the
 * IR are most of the cost; with a kernel include tree every header reaches `asm/` and is ABI-dependent).
 */
export function parseHeaderForAbis(path: string, abis: readonly Abi[], options: Omit<ParseOptions, 'abi'> = {}): Map<string, HeaderIR> {
  // The passes read the same files: each is looked up and read once.
  const files = new FileCache();
  let commonUnit: PreprocessedUnit | undefined;
  try {
    commonUnit = preprocessFor(path, options, files);
  } catch (err) {
    // Without an ABI's macros the header may not preprocess at all (mips's asm/bitfield.h: `#error` unless
    // __MIPSEL__ or __MIPSEB__): it is ABI-dependent; each ABI's own pass below says what C says there.
    if (!(err instanceof HeaderError)) throw err;
  }
  if (commonUnit && !commonUnit.abiSensitive) {
    const common = new DeclarationParser(commonUnit).run();
    return new Map(abis.map((abi) => [abi.name, common]));
  }
  // ABI-dependent: the ABI-independent pass's tokens are not parsed (no ABI would use its IR).
  const byKey = new Map<string, HeaderIR>();
  const out = new Map<string, HeaderIR>();
  for (const abi of abis) {
    const unit = preprocessFor(path, { ...options, abi }, files);
    const key = unitKey(unit);
    const parsed = byKey.get(key);
    if (parsed) {
      out.set(abi.name, { ...parsed, abi: abi.name });
      continue;
    }
    const ir = new DeclarationParser(unit, abi.name).run();
    byKey.set(key, ir);
    out.set(abi.name, ir);
  }
  return out;
}

/**
 * A file by its contents: each ABI's `asm/` folder holds many identical files (`#include <asm-generic/...>`),
 * and ABIs that read the same text share a parse. Declarations keep the path of the first ABI's copy;
 * the main header's own path is kept as is (declarations are told apart by it).
 */
const identities = new Map<string, string>();
function fileIdentity(file: string): string {
  let id = identities.get(file);
  if (id === undefined) {
    let text: string;
    try { text = readFileSync(file, 'utf8'); } catch { text = file; }
    identities.set(file, (id = createHash('sha1').update(text).digest('hex')));
  }
  return id;
}

/**
 * What the parse of a unit depends on: its tokens (text and place), the `#pragma pack`s, every macro
 * definition the header made or included, and the values of the predefined macros that any of
 * them mentions (`__SIZEOF_LONG__` in a macro body makes the ABIs differ).
 */
function unitKey(unit: PreprocessedUnit): string {
  const parts: string[] = [];
  let file = '';
  for (const t of unit.tokens) {
    if (t.loc.file !== file) { file = t.loc.file; parts.push(`\u0001${fileIdentity(file)}`); }
    parts.push(`${t.text}@${t.loc.line}:${t.loc.col}`);
  }
  parts.push('\u0002', JSON.stringify(unit.packs));
  const mentioned = new Set<string>();
  const predefined: string[] = [];
  for (const m of unit.macros.values()) {
    if (m.loc.file === '<predefined>') { predefined.push(m.name); continue; }
    parts.push(`\u0003${m.name}(${m.params?.join(',') ?? ''})@${fileIdentity(m.loc.file)}:${m.loc.line}`);
    for (const t of m.body) { parts.push(t.text); if (t.kind === 'ident') mentioned.add(t.text); }
  }
  for (const name of predefined) {
    if (mentioned.has(name)) parts.push(`\u0004${name}=${unit.macros.get(name)!.body.map((t) => t.text).join(' ')}`);
  }
  return createHash('sha1').update(parts.join(' ')).digest('hex');
}

class DeclarationParser {
  private text = '';
  /** Start offset in `text` of each token of the unit. */
  private readonly offsets: number[] = [];
  /** How many attribute keywords come before each token (and at the end): a node without one has no attributes. */
  private readonly attributeWords: number[] = [];
  private readonly records: RecordDecl[] = [];
  private readonly enums: EnumDecl[] = [];
  private readonly typedefs = new Map<string, TypedefDecl>();
  /** Every enumerator so far (they share one name space across the unit). */
  private readonly enumerators = new Map<string, SourceLoc>();
  private readonly staticAsserts: { cond: Expr; loc: SourceLoc }[] = [];
  /** Attribute specifiers blanked for tree-sitter: token range and the tokens inside `((...))`. */
  private readonly hiddenAttributes: { start: number; end: number; tokens: Token[] }[] = [];
  private readonly ctx = { isTypeName: (n: string) => this.typedefs.has(n) };

  constructor(private readonly unit: PreprocessedUnit, private readonly abi?: string) {}

  run(): HeaderIR {
    const tokens = this.unit.tokens;
    const parts: string[] = [];
    let length = 0;
    let prev: Token | undefined;
    let parens = 0;
    const hidden = this.hiddenAttributeSpans(tokens);
    let attributeCount = 0;
    for (const [i, t] of tokens.entries()) {
      const sep = !prev ? '' : prev.loc.line !== t.loc.line || prev.loc.file !== t.loc.file ? '\n' : ' ';
      length += sep.length;
      this.offsets.push(length);
      this.attributeWords.push(attributeCount);
      if (ATTRIBUTE_WORDS.has(t.text)) attributeCount++;
      if (t.text === '(') parens++; else if (t.text === ')') parens--;
      // An empty declaration `;;` or `{ ;` (GNU C accepts one in a struct: nfc.h, little-endian mips's asm/inst.h
      // through __BITFIELD_FIELD) is blanked for tree-sitter; `for (;;)` is not.
      const stray = t.text === ';' && (prev?.text === ';' || prev?.text === '{') && parens === 0;
      // tree-sitter counts bytes: keep the text ASCII so offsets stay character offsets.
      // tree-sitter-c knows `offsetof(type, member)` (<stddef.h>'s, expanded to GCC's builtin) by its standard name.
      const text = stray || hidden.has(i) ? ' '.repeat(stray ? 1 : t.text.length) : t.text === '__builtin_offsetof' ? 'offsetof' : t.text.replace(/[^\x00-\x7f]/g, '?');
      parts.push(sep, text);
      length += text.length;
      prev = t;
    }
    this.attributeWords.push(attributeCount);
    this.text = parts.join('');
    checkNesting(tokens);
    const tree = treeSitter().parse(this.text);
    this.reportSyntaxErrors(tree.rootNode);
    for (const node of tree.rootNode.namedChildren) this.topLevel(node);
    const macros = this.macros();
    const source = readFileSync(this.unit.file);
    return {
      file: this.unit.file,
      sha256: createHash('sha256').update(source).digest('hex'),
      records: this.records,
      enums: this.enums,
      typedefs: this.typedefs,
      macros,
      comments: this.unit.comments,
      abiSensitive: this.unit.abiSensitive,
      abi: this.abi,
      ...(this.staticAsserts.length ? { staticAsserts: this.staticAsserts } : {}),
    };
  }

  // ---- locations -------------------------------------------------------------

  private tokenIndexAt(offset: number): number {
    let lo = 0;
    let hi = this.offsets.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.offsets[mid]! <= offset) lo = mid; else hi = mid - 1;
    }
    return lo;
  }

  private locOf(node: SyntaxNode): SourceLoc {
    const tokens = this.unit.tokens;
    if (tokens.length === 0) return { file: this.unit.file, line: 1, col: 1 };
    return tokens[this.tokenIndexAt(node.startIndex)]!.loc;
  }

  private tokensOf(node: SyntaxNode): Token[] {
    const first = this.tokenIndexAt(node.startIndex);
    const out: Token[] = [];
    for (let i = first; i < this.offsets.length && this.offsets[i]! < node.endIndex; i++) out.push(this.unit.tokens[i]!);
    return out;
  }

  private expr(node: SyntaxNode): Expr {
    return parseExpression(this.tokensOf(node), this.ctx);
  }

  /**
   * Token indexes of GNU attributes tree-sitter-c cannot place, blanked in its text: between a declaration's
   * type and its declarator (`typedef unsigned long __attribute__((aligned(4))) packed_ulong;`, rdma's
   * ib_user_mad.h), kept in {@link hiddenAttributes} for the declaration around them; and before an
   * initialiser (`names[] __attribute__((__unused__)) = {...}`: a variable's, no type's layout).
   */
  private hiddenAttributeSpans(tokens: readonly Token[]): Set<number> {
    const out = new Set<number>();
    for (let i = 0; i < tokens.length; i++) {
      if (!/^__attribute(__)?$/.test(tokens[i]!.text) || tokens[i + 1]?.text !== '(') continue;
      let depth = 0;
      let end = i + 1;
      for (; end < tokens.length; end++) {
        if (tokens[end]!.text === '(') depth++;
        else if (tokens[end]!.text === ')' && --depth === 0) break;
      }
      const prev = tokens[i - 1];
      const next = tokens[end + 1];
      const afterType = prev?.kind === 'ident' && !/^(struct|union|enum|typedef|__attribute__|__attribute)$/.test(prev.text)
        && (next?.text === '*' || (next?.kind === 'ident' && !/^__attribute(__)?$/.test(next.text)));
      if (afterType || next?.text === '=') {
        for (let k = i; k <= end; k++) out.add(k);
        if (afterType) this.hiddenAttributes.push({ start: i, end, tokens: tokens.slice(i + 3, end - 1) });
      }
      i = end;
    }
    return out;
  }

  /** Layout attributes of the hidden attribute specifiers inside `node` (see {@link hiddenAttributeSpans}). */
  private hiddenAttributesIn(node: SyntaxNode): LayoutAttributes {
    const first = this.tokenIndexAt(node.startIndex);
    const last = this.tokenIndexAt(Math.max(node.startIndex, node.endIndex - 1));
    let packed = false;
    let aligned: Expr | 'max' | undefined;
    for (const h of this.hiddenAttributes) {
      if (h.start < first || h.end > last) continue;
      // `name`, `name(args)`, comma-separated, inside `__attribute__((...))`.
      let k = 0;
      while (k < h.tokens.length) {
        const name = h.tokens[k]!;
        let args: Token[] | undefined;
        let j = k + 1;
        if (h.tokens[j]?.text === '(') {
          let depth = 0;
          const start = j + 1;
          for (; j < h.tokens.length; j++) {
            if (h.tokens[j]!.text === '(') depth++;
            else if (h.tokens[j]!.text === ')' && --depth === 0) break;
          }
          args = h.tokens.slice(start, j);
          j++;
        }
        const bare = name.text.replace(/^__(.*)__$/, '$1');
        if (bare === 'packed') packed = true;
        else if (bare === 'aligned') aligned = args?.length ? parseExpression(args, this.ctx) : 'max';
        else if (!NEUTRAL_ATTRIBUTES.has(bare) && !NEUTRAL_ATTRIBUTES.has(`__${bare}__`)) {
          throw new HeaderError(name.loc, `unsupported attribute '${name.text}' (it may change the layout)`);
        }
        k = j;
        if (h.tokens[k]?.text === ',') k++;
      }
    }
    return { ...(packed ? { packed } : {}), ...(aligned !== undefined ? { aligned } : {}) };
  }

  private reportSyntaxErrors(root: SyntaxNode): void {
    if (!root.hasError) return;
    const visit = (n: SyntaxNode): void => {
      if (n.isMissing) {
        if (n.type === 'field_identifier' && n.nextSibling?.type === 'bitfield_clause') return; // an unnamed bit-field
        throw new HeaderError(this.locOf(n), `syntax error: expected '${n.type}'`);
      }
      if (n.type === 'ERROR') {
        const t = this.tokensOf(n)[0];
        throw new HeaderError(this.locOf(n), `syntax error: unexpected '${t?.text ?? n.text.slice(0, 20)}'`);
      }
      for (const c of n.children) if (c.hasError) visit(c);
    };
    visit(root);
  }

  // ---- declarations ---------------------------------------------------------

  private topLevel(node: SyntaxNode): void {
    switch (node.type) {
      case 'struct_specifier':
      case 'union_specifier':
      case 'enum_specifier':
        this.typeOf(node);
        return;
      case 'type_definition':
        this.typedef(node);
        return;
      case 'declaration':
        // `struct foo;`, or a variable/function declaration: only its types matter here.
        this.typeOf(node.childForFieldName('type')!);
        return;
      case 'function_definition': {
        // A `static inline` helper: its body does not change the ABI, but what it names must exist.
        // `stbuct foo { ... }` parses as one too: a misspelt keyword becomes an unknown type name.
        this.typeOf(node.childForFieldName('type')!);
        const d = node.childForFieldName('declarator');
        if (d && !this.isFunctionDeclarator(d)) throw new HeaderError(this.locOf(d), "expected ';' after top level declarator");
        return;
      }
      case 'comment':
        return;
      case 'primitive_type':
      case 'sized_type_specifier':
      case 'type_identifier':
        // `int;`: declares nothing (compilers warn), but the type must exist.
        this.typeOf(node);
        return;
      case 'expression_statement': {
        if (node.namedChildCount === 0) return; // a stray ';' at file scope
        // `_Static_assert(cond, "msg");` (x86's asm/elf.h): tree-sitter-c takes it for a call; checked per ABI by the layout.
        const call = node.namedChildren[0]!;
        const args = call.type === 'call_expression' ? call.childForFieldName('arguments')?.namedChildren : undefined;
        if (args?.length && /^(_Static_assert|static_assert)$/.test(call.childForFieldName('function')?.text ?? '')) {
          this.staticAsserts.push({ cond: this.expr(args[0]!), loc: this.locOf(node) });
          return;
        }
        throw new HeaderError(this.locOf(node), `expected a declaration, found an expression ('${this.tokensOf(node)[0]?.text ?? ''}')`);
      }
      default:
        throw new HeaderError(this.locOf(node), `unsupported top-level construct (${node.type.replace(/_/g, ' ')})`);
    }
  }

  private isFunctionDeclarator(d: SyntaxNode): boolean {
    let n: SyntaxNode | null = d;
    while (n && (n.type === 'pointer_declarator' || n.type === 'parenthesized_declarator' || n.type === 'attributed_declarator')) {
      n = n.childForFieldName('declarator') ?? n.namedChildren.find((c) => c.type !== 'attribute_specifier') ?? null;
    }
    return n?.type === 'function_declarator';
  }

  private typedef(node: SyntaxNode): void {
    const base = this.typeOf(node.childForFieldName('type')!);
    const attrs = { ...this.hiddenAttributesIn(node), ...this.attributesOf(node) };
    for (const d of node.childrenForFieldName('declarator')) {
      const { name, type } = this.declarator(d, base);
      const before = this.typedefs.get(name);
      if (before && JSON.stringify(before.type) !== JSON.stringify(type)) {
        throw new HeaderError(this.locOf(d), `typedef redefinition with different types ('${name}' first defined at ${before.loc.file}:${before.loc.line})`);
      }
      if (this.enumerators.has(name)) throw new HeaderError(this.locOf(d), `redefinition of '${name}' as a different kind of symbol`);
      this.typedefs.set(name, { name, type, attrs, loc: this.locOf(d) });
    }
  }

  /** The type a type-specifier node names, defining records and enums on the way. */
  private typeOf(node: SyntaxNode): CType {
    switch (node.type) {
      case 'primitive_type':
        // tree-sitter-c takes `size_t`, `uint32_t`, ... for keywords; C knows them only as typedefs (the libc model's).
        if (this.typedefs.has(node.text)) return { kind: 'typedef', name: node.text };
        return { kind: 'builtin', name: node.text };
      case 'sized_type_specifier':
        return { kind: 'builtin', name: node.text.split(/\s+/).join(' ') };
      case 'type_identifier': {
        // GCC's 128-bit integer types (aarch64's asm/ptrace.h); tree-sitter-c takes them for typedef names.
        const int128 = INT128_TYPES[node.text];
        if (int128 && !this.typedefs.has(node.text)) return { kind: 'builtin', name: int128 };
        // C's _Bool keyword, which tree-sitter-c takes for a typedef name (`static __inline__ _Bool f(...)`).
        if (node.text === '_Bool') return { kind: 'builtin', name: '_Bool' };
        if (!this.typedefs.has(node.text)) throw new HeaderError(this.locOf(node), `unknown type name '${node.text}'`);
        return { kind: 'typedef', name: node.text };
      }
      case 'struct_specifier':
      case 'union_specifier':
        return { kind: 'record', id: this.record(node, node.type === 'struct_specifier' ? 'struct' : 'union').id };
      case 'enum_specifier':
        return { kind: 'enum', id: this.enumeration(node).id };
      case 'macro_type_specifier':
        throw new HeaderError(this.locOf(node), `unknown macro '${node.childForFieldName('name')?.text}' used as a type`);
      default:
        throw new HeaderError(this.locOf(node), `unsupported type specifier (${node.type.replace(/_/g, ' ')})`);
    }
  }

  private record(node: SyntaxNode, tag: 'struct' | 'union'): RecordDecl {
    const name = node.childForFieldName('name')?.text;
    const body = node.childForFieldName('body');
    const attrs = this.attributesOf(node);
    let decl = name ? this.records.find((r) => r.tag === tag && r.name === name) : undefined;
    if (name && !decl) {
      const other = this.records.find((r) => r.name === name && r.tag !== tag);
      if (other) throw new HeaderError(this.locOf(node), `'${name}' declared as ${tag} here but as ${other.tag} at line ${other.loc.line}`);
    }
    if (!decl) {
      decl = { id: this.records.length, tag, name, attrs, loc: this.locOf(node) };
      this.records.push(decl);
    }
    if (body) {
      if (decl.fields) throw new HeaderError(this.locOf(node), `redefinition of ${tag} ${name}`);
      decl.fields = [];
      decl.loc = this.locOf(node);
      const start = this.tokenIndexAt(node.startIndex);
      const pack = [...this.unit.packs].reverse().find((x) => x.at <= start)?.value;
      decl.attrs = pack === undefined ? attrs : { ...attrs, pack };
      const tokens = this.tokensOf(body);
      decl.endLine = tokens[tokens.length - 1]?.loc.line;
      for (const f of body.namedChildren) {
        if (f.type === 'comment') continue;
        if (f.type !== 'field_declaration') throw new HeaderError(this.locOf(f), `unsupported member (${f.type.replace(/_/g, ' ')})`);
        for (const field of this.fields(f)) decl.fields.push(field);
      }
      this.checkMembers(decl);
    }
    return decl;
  }

  /**
   * C's constraints on a member list that do not need an ABI: member names unique
   * (anonymous members' names count as the parent's), and a flexible array
   * member only after some named member.
   */
  private checkMembers(decl: RecordDecl): void {
    const seen = new Map<string, SourceLoc>();
    const visit = (r: RecordDecl) => {
      for (const f of r.fields ?? []) {
        if (f.name === undefined) {
          if (f.type.kind === 'record' && f.bitWidth === undefined) visit(this.records[f.type.id]!);
          continue;
        }
        const first = seen.get(f.name);
        if (first) throw new HeaderError(f.loc, `duplicate member '${f.name}' (previous declaration at ${first.file}:${first.line}:${first.col})`);
        seen.set(f.name, f.loc);
      }
    };
    visit(decl);
    const fields = decl.fields!;
    const last = fields[fields.length - 1];
    if (decl.tag === 'struct' && last?.type.kind === 'array' && last.type.length === null && seen.size === 1) {
      throw new HeaderError(last.loc, `flexible array member '${last.name}' not allowed in otherwise empty struct`);
    }
  }

  private fields(node: SyntaxNode): Field[] {
    const typeNode = node.childForFieldName('type');
    if (!typeNode) throw new HeaderError(this.locOf(node), 'expected a member type');
    const base = this.typeOf(typeNode);
    // `struct ts_config __attribute__((aligned(8))) *config;`: attributes of a tag named without a body
    // belong to the declaration (GCC), so to the member.
    const tagRef = /^(struct|union|enum)_specifier$/.test(typeNode.type) && !typeNode.childForFieldName('body');
    const attrs = { ...(tagRef ? this.attributesOf(typeNode) : {}), ...this.hiddenAttributesIn(node), ...this.attributesOf(node) };
    const declarators = node.childrenForFieldName('declarator');
    // `__u32 :32;`: tree-sitter-c wants a name before every bit width; it marks the missing one, which C allows.
    const unnamed = (d: SyntaxNode) => d.isMissing && d.type === 'field_identifier';
    if (declarators.length === 0) {
      if (base.kind !== 'record') throw new HeaderError(this.locOf(node), 'declaration does not declare anything');
      return [{ type: base, attrs, loc: this.locOf(node), spelling: typeNode.text }];
    }
    // Bit widths follow their declarator: `unsigned a:3, b;`.
    const out: Field[] = [];
    for (const child of node.namedChildren) {
      if (child.type === 'bitfield_clause') {
        const last = out[out.length - 1];
        const width = child.namedChildren[0];
        if (!last || !width) throw new HeaderError(this.locOf(child), 'bit-field width without a member');
        if (last.type.kind === 'array' || last.type.kind === 'pointer' || last.type.kind === 'function') {
          throw new HeaderError(last.loc, `bit-field '${last.name}' has non-integral type`);
        }
        out[out.length - 1] = { ...last, bitWidth: this.expr(width) };
        continue;
      }
      if (!declarators.some((d) => d.id === child.id)) continue;
      if (unnamed(child)) {
        out.push({ type: base, attrs, loc: this.locOf(child), spelling: typeNode.text });
        continue;
      }
      const { name, type } = this.declarator(child, base);
      const suffix = child.text.replace(name, '').replace(/\s+/g, '');
      out.push({ name, type, attrs, loc: this.locOf(child), spelling: suffix ? `${typeNode.text}${suffix.startsWith('*') ? ' ' : ''}${suffix}` : typeNode.text });
    }
    return out;
  }

  /** The name and type a declarator gives `base` (iteratively: declarators nest as deep as a header writes them). */
  private declarator(node: SyntaxNode, base: CType): { name: string; type: CType } {
    let type = base;
    let depth = 0;
    for (let n = node; ;) {
      if (++depth > MAX_TYPE_DEPTH) throw new HeaderError(this.locOf(n), ourLimit('declarator depth', `${MAX_TYPE_DEPTH} levels of arrays, pointers and parentheses`));
      switch (n.type) {
        case 'field_identifier':
        case 'type_identifier':
        case 'identifier':
        case 'primitive_type': // `typedef unsigned long size_t;`: see typeOf
          return { name: n.text, type };
        case 'array_declarator': {
          const size = n.childForFieldName('size');
          type = { kind: 'array', of: type, length: size ? this.expr(size) : null };
          n = n.childForFieldName('declarator')!;
          break;
        }
        case 'pointer_declarator':
          type = { kind: 'pointer', to: type };
          n = n.childForFieldName('declarator')!;
          break;
        case 'parenthesized_declarator':
          n = n.namedChildren.find((c) => c.type !== 'attribute_specifier')!;
          break;
        case 'function_declarator':
          type = { kind: 'function' };
          n = n.childForFieldName('declarator')!;
          break;
        case 'attributed_declarator':
          n = n.namedChildren[0]!;
          break;
        default:
          throw new HeaderError(this.locOf(n), `unsupported declarator (${n.type.replace(/_/g, ' ')})`);
      }
    }
  }

  private enumeration(node: SyntaxNode): EnumDecl {
    const name = node.childForFieldName('name')?.text;
    const body = node.childForFieldName('body');
    let decl = name ? this.enums.find((e) => e.name === name) : undefined;
    if (!decl) {
      decl = { id: this.enums.length, name, attrs: this.attributesOf(node), loc: this.locOf(node) };
      this.enums.push(decl);
    }
    if (body) {
      if (decl.enumerators) throw new HeaderError(this.locOf(node), `redefinition of enum ${name}`);
      const list: Enumerator[] = [];
      for (const e of body.namedChildren) {
        if (e.type !== 'enumerator') continue;
        // `NAME` or `NAME = value`, read from the tokens (one native call per enumerator instead of three: enums can be long).
        const tokens = this.tokensOf(e);
        const value = tokens.length > 2 && tokens[1]!.text === '=' ? parseExpression(tokens.slice(2), this.ctx) : undefined;
        const en: Enumerator = { name: tokens[0]!.text, value, loc: tokens[0]!.loc };
        const first = this.enumerators.get(en.name);
        if (first) throw new HeaderError(en.loc, `redefinition of enumerator '${en.name}' (previous definition at ${first.file}:${first.line}:${first.col})`);
        if (this.typedefs.has(en.name)) throw new HeaderError(en.loc, `redefinition of '${en.name}' as a different kind of symbol`);
        this.enumerators.set(en.name, en.loc);
        list.push(en);
      }
      decl.enumerators = list;
      decl.attrs = this.attributesOf(node);
    }
    return decl;
  }

  /** The layout attributes among a node's `__attribute__((...))` children. */
  private attributesOf(node: SyntaxNode): LayoutAttributes {
    // Most declarations have none: found from the tokens, without walking the node's children (native calls).
    const end = node.endIndex;
    if (this.attributeWords[this.tokenIndexAt(node.startIndex)] === this.attributeWords[end > node.startIndex ? this.tokenIndexAt(end - 1) + 1 : this.tokenIndexAt(end)]) return {};
    let packed = false;
    let aligned: Expr | 'max' | undefined;
    let alignas: Expr | undefined;
    for (const spec of node.namedChildren) {
      const q = spec.type === 'type_qualifier' ? spec.namedChildren.find((c) => c.type === 'alignas_qualifier') : undefined;
      if (q) {
        const arg = q.namedChildren[0];
        if (!arg) throw new HeaderError(this.locOf(q), '_Alignas expects an expression or a type');
        // `_Alignas(type)` is `_Alignas(_Alignof(type))`.
        alignas = arg.type === 'type_descriptor'
          ? { k: 'alignof', type: parseTypeName(this.tokensOf(arg), this.ctx), loc: this.locOf(arg) }
          : this.expr(arg);
        continue;
      }
      if (spec.type !== 'attribute_specifier') continue;
      const list = spec.namedChildren[0];
      for (const item of list?.namedChildren ?? []) {
        const nameNode = item.type === 'call_expression' ? item.childForFieldName('function')! : item;
        const name = nameNode.text.replace(/^__(.*)__$/, '$1');
        if (name === 'packed') packed = true;
        else if (name === 'aligned') {
          const args = item.type === 'call_expression' ? item.childForFieldName('arguments')!.namedChildren : [];
          aligned = args.length > 0 ? this.expr(args[0]!) : 'max';
        } else if (!NEUTRAL_ATTRIBUTES.has(name) && !NEUTRAL_ATTRIBUTES.has(`__${name}__`)) {
          throw new HeaderError(this.locOf(item), `unsupported attribute '${nameNode.text}' (it may change the layout)`);
        }
      }
    }
    return { ...(packed ? { packed } : {}), ...(aligned !== undefined ? { aligned } : {}), ...(alignas !== undefined ? { alignas } : {}) };
  }

  // ---- macros ---------------------------------------------------------------

  private macros(): MacroDecl[] {
    const out: MacroDecl[] = [];
    for (const m of this.unit.macros.values()) {
      const loc = m.loc.file === this.unit.file ? m.loc : m.redefinedAt?.find((l) => l.file === this.unit.file);
      if (!loc) continue;
      const body = m.body.map((t, i) => (i > 0 && t.space ? ' ' : '') + t.text).join('');
      const decl: MacroDecl = { name: m.name, params: m.params, variadic: m.variadic, body, bodyTokens: m.body, loc };
      out.push(m.params ? decl : { ...decl, value: this.macroValue(m.name) });
    }
    return out;
  }

  private macroValue(name: string): MacroValue {
    const at = this.unit.macros.get(name)!;
    let expanded: Token[];
    try {
      expanded = this.unit.expand([{ kind: 'ident', text: name, loc: at.loc, space: false }]);
    } catch (e) {
      return { kind: 'other', reason: (e as Error).message };
    }
    if (expanded.length === 0) return { kind: 'empty' };
    try {
      const expr = parseExpression(expanded, this.ctx);
      if (expr.k === 'string') return { kind: 'string', value: expr.value };
      return { kind: 'expression', expr };
    } catch (e) {
      return { kind: 'other', reason: (e as Error).message };
    }
  }
}

