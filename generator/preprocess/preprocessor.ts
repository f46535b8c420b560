/**
 * A C preprocessor for UAPI headers: conditionals, includes (built-in table, the
 * header's own directory, then `--include` directories), object-like and
 * function-like macros (variadic, `#`, `##`), with C's rescanning rules.
 *
 * Its output is ABI-independent: the token stream of the translation unit, every
 * macro definition with its location, and the comments. ABI-dependent values
 * stay symbolic (see builtins.ts).
 */
import { closeSync, constants, fstatSync, openSync, readSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { HeaderError, type SourceLoc } from '../errors.js';
import { lex, type Comment, type LogicalLine, type Token } from '../source/lexer.js';
import { ABI_DEPENDENT_BUILTINS, BUILTIN_HEADERS, IMPLICIT_INCLUDES } from './builtins.js';
import { parseExpression } from '../expr/parser.js';
import { evaluatePreprocessorCondition } from '../expr/pp-eval.js';
import { MAX_EXPANSION_TOKENS, MAX_FILE_BYTES, MAX_INCLUDE_DEPTH, MAX_MACRO_NESTING, ourLimit } from '../limits.js';

/** A `#define`, as written. */
export interface MacroDefinition {
  readonly name: string;
  /** Parameter names of a function-like macro (the variadic one last), else undefined. */
  readonly params?: readonly string[];
  readonly variadic: boolean;
  readonly body: readonly Token[];
  readonly loc: SourceLoc;
  /** Where it was defined again identically (which changes nothing else): a header that does so defines it too. */
  readonly redefinedAt?: readonly SourceLoc[];
}

/** Where an included file came from. */
export type IncludeOrigin = 'main' | 'builtin' | 'sibling' | 'include-dir';

/** The result of preprocessing one header. */
export interface PreprocessedUnit {
  /** Absolute path of the main header. */
  readonly file: string;
  /** The translation unit's tokens after expansion, in order. */
  readonly tokens: readonly Token[];
  /** Macros defined at the end of the unit, in definition order. */
  readonly macros: ReadonlyMap<string, MacroDefinition>;
  /** Comments of the main file. */
  readonly comments: readonly Comment[];
  /** Files read, with how each was found. */
  readonly files: ReadonlyMap<string, IncludeOrigin>;
  /** `#pragma pack` changes: from output token `at` on, member alignment is capped at `value` (undefined: no cap). */
  readonly packs: readonly { readonly at: number; readonly value?: number }[];
  /** The header (or a non-built-in file it includes) mentions an ABI-dependent macro: preprocess it per ABI. */
  readonly abiSensitive: boolean;
  /** Expands tokens with the macros as they stand at the end of the unit. */
  expand(tokens: readonly Token[]): Token[];
}

/** Options for {@link preprocess}. */
export interface PreprocessOptions {
  /**
   * Directories searched for `<X>`. When there are any, they come before the built-in table, so a
   * kernel include tree gives its own `linux/types.h`, `asm/...`; the built-ins fill in the rest (the libc model).
   */
  readonly includeDirs?: readonly string[];
  /**
   * The ABI's multiarch folder (`Abi.debianTriplet`): `<dir>/<multiarch>/X` is searched before `<dir>/X`
   * for each include dir, as clang's `-isystem dir/<triplet> -isystem dir` does (Debian's per-ABI `asm/`).
   */
  readonly multiarch?: string;
  /**
   * Every ABI's multiarch folder. In a pass without `multiarch`, a file found only inside one of them
   * makes the header ABI-dependent (it must then be preprocessed per ABI).
   */
  readonly multiarchFolders?: readonly string[];
  /** Macros the compiler predefines (an ABI's: see abiPredefines); none for an ABI-independent pass. */
  readonly predefines?: Readonly<Record<string, string>>;
  /** Names that make a header ABI-dependent when it mentions them (see abiSensitiveNames). */
  readonly sensitiveNames?: ReadonlySet<string>;
  /**
   * What the file system answered, shared by passes over one header (one per ABI) so that each file is
   * looked up and read once: give a fresh {@link FileCache} per batch of passes made at one moment.
   */
  readonly files?: FileCache;
}

/** Files found and read, for {@link PreprocessOptions.files}. */
export class FileCache {
  private readonly found = new Map<string, boolean>();
  private readonly texts = new Map<string, string>();

  /** Whether `path` exists. */
  exists(path: string): boolean {
    let hit = this.found.get(path);
    if (hit === undefined) this.found.set(path, (hit = exists(path)));
    return hit;
  }

  /** The text of header `file` (see {@link readHeaderFile}; errors are not kept). */
  read(file: string, from: SourceLoc): string {
    let text = this.texts.get(file);
    if (text === undefined) this.texts.set(file, (text = readHeaderFile(file, from)));
    return text;
  }
}

interface Conditional {
  /** Lines in this branch are processed. */
  active: boolean;
  /** Some branch of this #if chain was taken already. */
  taken: boolean;
  sawElse: boolean;
  readonly parentActive: boolean;
  readonly loc: SourceLoc;
}

const BUILTIN_PREFIX = '<builtin>/';

/**
 * Files and their tokens, per process: a sweep or a multi-ABI run reads `linux/types.h` and friends
 * thousands of times. Keyed by path and checked against the text just read.
 */
const lexedFiles = new Map<string, { text: string; lexed: ReturnType<typeof lex> }>();
function lexCached(file: string, text: string): ReturnType<typeof lex> {
  const hit = lexedFiles.get(file);
  if (hit && hit.text === text) return hit.lexed;
  const lexed = lex(file, text);
  lexedFiles.set(file, { text, lexed });
  return lexed;
}

/** Preprocesses the header at `path`. Throws HeaderError on malformed directives or missing includes. */
export function preprocess(path: string, options: PreprocessOptions = {}): PreprocessedUnit {
  return new Preprocessor(resolve(path), options).run();
}

class Preprocessor {
  private readonly macros = new Map<string, MacroDefinition>();
  private readonly out: Token[] = [];
  private readonly files = new Map<string, IncludeOrigin>();
  private comments: Comment[] = [];
  private readonly packs: { at: number; value?: number }[] = [];
  private readonly packStack: (number | undefined)[] = [];
  private depth = 0;
  private abiSensitive = false;

  constructor(private readonly mainFile: string, private readonly options: PreprocessOptions) {}

  run(): PreprocessedUnit {
    const here: SourceLoc = { file: this.mainFile, line: 1, col: 1 };
    for (const [name, value] of Object.entries(this.options.predefines ?? {})) {
      const loc = { file: '<predefined>', line: 1, col: 1 };
      const def = { name, variadic: false, body: lex('<predefined>', value).lines[0]?.tokens ?? [], loc };
      this.macros.set(name, def);
      this.mention(def, 1);
    }
    for (const name of IMPLICIT_INCLUDES) this.includeFile(name, here);
    const text = this.read(this.mainFile, here);
    this.files.set(this.mainFile, 'main');
    const lexed = lexCached(this.mainFile, text);
    this.comments = lexed.comments;
    this.processFile(lexed.lines, this.mainFile);
    return {
      file: this.mainFile, tokens: this.out, macros: this.macros, comments: this.comments, files: this.files, packs: this.packs, abiSensitive: this.abiSensitive,
      expand: (tokens) => this.expand(tokens),
    };
  }

  private read(file: string, from: SourceLoc): string {
    return this.options.files ? this.options.files.read(file, from) : readHeaderFile(file, from);
  }

  private exists(path: string): boolean {
    return this.options.files ? this.options.files.exists(path) : exists(path);
  }

  private processFile(lines: readonly LogicalLine[], file: string): void {
    const sensitive = this.options.sensitiveNames;
    if (sensitive && !file.startsWith(BUILTIN_PREFIX)) {
      this.abiSensitive ||= lines.some((l) => l.tokens.some((t) => t.kind === 'ident' && sensitive.has(t.text)));
    }
    const stack: Conditional[] = [];
    let pending: Token[] = [];
    const active = () => stack.length === 0 || stack[stack.length - 1]!.active;
    const flush = () => {
      if (pending.length > 0) for (const t of this.expand(pending)) this.out.push(t);
      pending = [];
    };
    for (const { tokens } of lines) {
      const first = tokens[0]!;
      if (first.text !== '#' || first.kind !== 'punct') {
        if (active()) for (const t of tokens) pending.push(t);
        continue;
      }
      flush();
      const directive = tokens[1];
      const rest = tokens.slice(2);
      if (!directive) continue; // the null directive
      const name = directive.text;
      switch (name) {
        case 'if':
        case 'ifdef':
        case 'ifndef': {
          const parentActive = active();
          let value = false;
          if (parentActive) {
            if (name === 'if') value = this.condition(rest, directive.loc);
            else {
              const id = rest[0];
              if (!id || id.kind !== 'ident') throw new HeaderError(directive.loc, `#${name} expects a macro name`);
              value = this.macros.has(id.text) === (name === 'ifdef');
            }
          }
          stack.push({ active: parentActive && value, taken: value, sawElse: false, parentActive, loc: directive.loc });
          break;
        }
        case 'elif':
        case 'else': {
          const top = stack[stack.length - 1];
          if (!top) throw new HeaderError(directive.loc, `#${name} without #if`);
          if (top.sawElse) throw new HeaderError(directive.loc, `#${name} after #else`);
          if (name === 'else') top.sawElse = true;
          const value = !top.taken && top.parentActive && (name === 'else' || this.condition(rest, directive.loc));
          top.active = value;
          top.taken ||= value;
          break;
        }
        case 'endif':
          if (!stack.pop()) throw new HeaderError(directive.loc, '#endif without #if');
          break;
        default:
          if (!active()) break;
          if (name === 'define') this.define(rest, directive.loc);
          else if (name === 'undef') {
            if (rest[0]?.kind !== 'ident') throw new HeaderError(directive.loc, '#undef expects a macro name');
            this.forget();
            const old = this.macros.get(rest[0].text);
            if (old) this.mention(old, -1);
            this.macros.delete(rest[0].text);
          } else if (name === 'include') this.include(rest, directive.loc, file);
          else if (name === 'error') throw new HeaderError(directive.loc, `#error ${rest.map((t) => t.text).join(' ')}`);
          else if (name === 'pragma') this.pragma(rest, directive.loc);
          else if (name === 'warning' || name === 'line' || name === 'ident') { /* no effect on layout */ }
          else throw new HeaderError(directive.loc, `unknown preprocessing directive #${name}`);
      }
    }
    flush();
    const open = stack[stack.length - 1];
    if (open) throw new HeaderError(open.loc, `unterminated conditional: #endif expected before end of ${file}`);
  }

  /** Drops memoised expansions: the macro table changed. */
  private forget(): void {
    if (this.memo.size > 0) this.memo.clear();
    this.graph = undefined;
  }

  /** How many macro bodies name each identifier (a macro or not). */
  private readonly mentions = new Map<string, number>();

  /** Counts (`by` 1) or uncounts (-1) the identifiers `def`'s body names, each once. */
  private mention(def: MacroDefinition, by: 1 | -1): void {
    const seen = new Set<string>();
    for (const t of def.body) {
      if (t.kind !== 'ident' || seen.has(t.text)) continue;
      seen.add(t.text);
      const n = (this.mentions.get(t.text) ?? 0) + by;
      if (n === 0) this.mentions.delete(t.text); else this.mentions.set(t.text, n);
    }
  }

  /**
   * Adds a new macro `def`, which no other macro's body names, to the memoised state instead of dropping it
   * (headers define thousands of macros, each followed by text to expand; recomputing the graph each time
   * was quadratic). No expansion made so far can produce its name, so every memoised one stands; in the
   * graph it is a component of its own (no edge leads to it), which pastes if its body does or reaches one that does.
   */
  private addNew(def: MacroDefinition): void {
    const graph = this.graph;
    if (!graph) return;
    const id = graph.pastes.length;
    let paste = false;
    for (const b of def.body) {
      if (b.text === '##') paste = true;
      const d = b.kind === 'ident' && b.text !== def.name ? graph.component.get(b.text) : undefined;
      if (d !== undefined && graph.pastes[d]) paste = true;
    }
    graph.component.set(def.name, id);
    graph.pastes.push(paste);
  }

  /** `#pragma pack(n)`, `pack(push[, n])`, `pack(pop)`, `pack()`; other pragmas do not change layouts. */
  private pragma(tokens: readonly Token[], loc: SourceLoc): void {
    if (tokens[0]?.text !== 'pack') return;
    const args = tokens.slice(2, -1).filter((t) => t.text !== ',').map((t) => t.text);
    if (tokens[1]?.text !== '(' || tokens[tokens.length - 1]?.text !== ')') throw new HeaderError(loc, "malformed '#pragma pack'");
    const current = this.packs[this.packs.length - 1]?.value;
    const number = (text: string | undefined) => {
      if (text === undefined) return undefined;
      const n = Number(text);
      if (![1, 2, 4, 8, 16].includes(n)) throw new HeaderError(loc, `'#pragma pack' expects 1, 2, 4, 8 or 16, found '${text}'`);
      return n;
    };
    let value: number | undefined;
    if (args[0] === 'push') { this.packStack.push(current); value = args[1] !== undefined ? number(args[1]) : current; }
    else if (args[0] === 'pop') value = this.packStack.pop();
    else value = number(args[0]);
    this.packs.push({ at: this.out.length, value });
  }

  private condition(tokens: readonly Token[], loc: SourceLoc): boolean {
    // `defined X` and `defined(X)` are resolved before expansion, as C requires.
    const resolved: Token[] = [];
    for (let i = 0; i < tokens.length; i++) {
      const t = tokens[i]!;
      if (t.kind === 'ident' && t.text === 'defined') {
        const paren = tokens[i + 1]?.text === '(';
        const id = tokens[i + (paren ? 2 : 1)];
        if (!id || id.kind !== 'ident' || (paren && tokens[i + 3]?.text !== ')')) {
          throw new HeaderError(t.loc, "'defined' expects a macro name");
        }
        resolved.push({ kind: 'number', text: this.macros.has(id.text) ? '1' : '0', loc: t.loc, space: t.space });
        i += paren ? 3 : 1;
      } else resolved.push(t);
    }
    if (resolved.length === 0) throw new HeaderError(loc, '#if with no expression');
    const expanded = this.expand(resolved);
    const expr = parseExpression(expanded, { isTypeName: () => false, bracketLimitIsOurs: true });
    return evaluatePreprocessorCondition(expr) !== 0n;
  }

  private define(tokens: readonly Token[], loc: SourceLoc): void {
    const nameTok = tokens[0];
    if (!nameTok || nameTok.kind !== 'ident') throw new HeaderError(loc, '#define expects a macro name');
    let body = tokens.slice(1);
    let params: string[] | undefined;
    let variadic = false;
    const open = tokens[1];
    if (open && open.text === '(' && !open.space) {
      params = [];
      let i = 2;
      for (;;) {
        const t = tokens[i];
        if (!t) throw new HeaderError(nameTok.loc, `unterminated parameter list of macro ${nameTok.text}`);
        if (t.text === ')') { i++; break; }
        if (t.text === '...') { params.push('__VA_ARGS__'); variadic = true; }
        else if (t.kind === 'ident') {
          if (tokens[i + 1]?.text === '...') { params.push(t.text); variadic = true; i++; }
          else params.push(t.text);
        } else throw new HeaderError(t.loc, `expected a parameter name in macro ${nameTok.text}, found '${t.text}'`);
        i++;
        if (tokens[i]?.text === ',') i++;
        else if (tokens[i]?.text !== ')') throw new HeaderError(tokens[i]?.loc ?? t.loc, `expected ',' or ')' in parameters of macro ${nameTok.text}`);
      }
      body = tokens.slice(i);
    }
    const old = this.macros.get(nameTok.text);
    // An identical redefinition (same parameters, same tokens and separations: C11 6.10.3p2) changes nothing: the
    // macro stays where it was first defined, and the redefining file defines it too (mips's asm/signal.h defines
    // SA_NOMASK, asm-generic/signal-defs.h again; linux/elf.h defines PT_GNU_STACK, linux/elf-fdpic.h again).
    if (old && old.loc.file !== '<predefined>' && old.variadic === variadic && (old.params ?? []).join(',') === (params ?? []).join(',')
      && (old.params === undefined) === (params === undefined) && old.body.length === body.length
      && old.body.every((t, k) => t.text === body[k]!.text && (k === 0 || !!t.space === !!body[k]!.space))) {
      this.macros.set(nameTok.text, { ...old, redefinedAt: [...(old.redefinedAt ?? []), nameTok.loc] });
      return;
    }
    if (old) this.mention(old, -1);
    const def: MacroDefinition = { name: nameTok.text, params, variadic, body, loc: nameTok.loc };
    // New and named by no body: nothing memoised can change. Otherwise (a redefinition, or a name bodies use) start over.
    const isNew = !old && !this.mentions.has(def.name);
    this.macros.delete(nameTok.text); // a redefinition moves to the end, as it now follows the others
    this.macros.set(nameTok.text, def);
    this.mention(def, 1);
    if (isNew) this.addNew(def); else this.forget();
  }

  private include(tokens: readonly Token[], loc: SourceLoc, from: string): void {
    let name: string;
    let first = tokens[0];
    if (first?.kind === 'ident') {
      // A computed include: `#include MACRO`.
      tokens = this.expand(tokens);
      first = tokens[0];
    }
    if (first?.kind === 'string') {
      name = first.text.slice(1, -1);
      // "X": the including file's directory first, as C compilers do.
      const here = isAbsolute(name) ? name : join(dirname(from), name);
      if (!from.startsWith(BUILTIN_PREFIX) && !isAbsolute(name) && this.exists(here)) {
        this.includeFile(name, loc, { file: here, text: this.read(here, loc), origin: 'sibling' });
        return;
      }
    } else if (first?.text === '<') {
      const close = tokens.findIndex((t) => t.text === '>');
      if (close < 0) throw new HeaderError(loc, "#include expects \"FILE\" or <FILE>");
      name = tokens.slice(1, close).map((t) => t.text).join('');
    } else throw new HeaderError(loc, "#include expects \"FILE\" or <FILE>");
    this.includeFile(name, loc);
  }

  private includeFile(name: string, loc: SourceLoc, given?: { file: string; text: string; origin: IncludeOrigin }): void {
    if (this.depth >= MAX_INCLUDE_DEPTH) throw new HeaderError(loc, `#include nested too deeply (more than ${MAX_INCLUDE_DEPTH} levels, at ${name})`);
    const found = given ?? this.findInclude(name, loc);
    if (found.origin === 'builtin' && ABI_DEPENDENT_BUILTINS.has(name)) this.abiSensitive = true;
    const first = !this.files.has(found.file);
    this.files.set(found.file, found.origin);
    if (found.origin === 'builtin' && !first) return; // built-ins are guarded anyway
    this.depth++;
    this.processFile(lexCached(found.file, found.text).lines, found.file);
    this.depth--;
  }

  private findInclude(name: string, loc: SourceLoc): { file: string; text: string; origin: IncludeOrigin } {
    const dirs = this.options.includeDirs ?? [];
    const builtin = BUILTIN_HEADERS.get(name);
    // Without include dirs the built-ins come first; with them, a real tree's own headers win.
    if (builtin !== undefined && (dirs.length === 0 || name.startsWith('<'))) return { file: BUILTIN_PREFIX + name, text: builtin, origin: 'builtin' };
    // A sibling first: `<linux/vfio.h>` from vfio_zdev.h means the vfio.h of the same version (unless the header
    // lives in one of the include dirs, whose layout then answers exactly).
    if (!this.mainInIncludeDir) {
      const sibling = isAbsolute(name) ? name : join(dirname(this.mainFile), name.replace(/^linux\//, ''));
      if (this.exists(sibling)) return { file: sibling, text: this.read(sibling, loc), origin: 'sibling' };
    }
    for (const dir of dirs) {
      const inMultiarch = this.findMultiarch(dir, name);
      if (inMultiarch) return { file: inMultiarch, text: this.read(inMultiarch, loc), origin: 'include-dir' };
      const candidate = resolve(dir, name);
      if (this.exists(candidate)) return { file: candidate, text: this.read(candidate, loc), origin: 'include-dir' };
    }
    if (builtin !== undefined) return { file: BUILTIN_PREFIX + name, text: builtin, origin: 'builtin' };
    const where = dirs.length ? `in ${dirs.join(', ')}${this.options.multiarch ? ` (nor its ${this.options.multiarch}/)` : ''}` : 'beside the header; pass --include DIR';
    throw new HeaderError(loc, `cannot find <${name}>: not built in (see the libc model in the README), not ${where}`);
  }

  /** `<dir>/<multiarch>/name` for this pass's ABI; in an ABI-independent pass, any ABI's (and the header becomes ABI-dependent). */
  private findMultiarch(dir: string, name: string): string | undefined {
    const folders = this.options.multiarch ? [this.options.multiarch] : this.options.multiarchFolders ?? [];
    for (const folder of folders) {
      const candidate = resolve(dir, folder, name);
      if (!this.exists(candidate)) continue;
      if (!this.options.multiarch) this.abiSensitive = true;
      return candidate;
    }
    return undefined;
  }

  private get mainInIncludeDir(): boolean {
    return (this.options.includeDirs ?? []).some((d) => {
      const rel = relative(resolve(d), this.mainFile);
      return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
    });
  }

  /** Memoised full expansions of object-like macros in isolation (see {@link expandObject}); cleared by #define/#undef. */
  private readonly memo = new Map<string, Token[] | HeaderError | null>();
  /** The macro reference graph's strongly connected components; recomputed after #define/#undef. */
  private graph?: MacroGraph;
  private nesting = 0;

  /**
   * Fully macro-expands `input` (C's expansion and rescanning, with hide sets).
   * Work is linear in the tokens produced, which are capped; object-like macros
   * are expanded once and reused where that cannot change the result.
   */
  expand(input: readonly Token[]): Token[] {
    if (input.length === 0) return [];
    if (this.nesting >= MAX_MACRO_NESTING) throw new HeaderError(input[0]!.loc, ourLimit('nesting of macro invocations in macro arguments', MAX_MACRO_NESTING));
    this.nesting++;
    try {
      return this.expandLoop(input);
    } finally {
      this.nesting--;
    }
  }

  private expandLoop(input: readonly Token[]): Token[] {
    const output: Token[] = [];
    // The tokens still to scan, last first: pushing a replacement and popping the next token are O(1).
    const stack = [...input].reverse();
    let work = 0;
    // What macros add is capped, beyond the tokens given (a file's text between two directives may be long).
    const cap = MAX_EXPANSION_TOKENS + input.length;
    const tooLarge = () => new HeaderError(input[0]!.loc, ourLimit('macro expansion', `${MAX_EXPANSION_TOKENS} tokens`));
    while (stack.length > 0) {
      if (++work > 4 * cap || output.length > cap || stack.length > cap) throw tooLarge();
      const t = stack.pop()!;
      const macro = t.kind === 'ident' ? this.macros.get(t.text) : undefined;
      if (!macro || t.hide?.has(t.text)) { output.push(t); continue; }
      const hide = new Set(t.hide ?? []).add(macro.name);
      if (!macro.params) {
        const memo = this.expandObject(macro, t);
        if (memo) {
          if (output.length + memo.length > cap) throw tooLarge();
          for (let k = 0; k < memo.length; k++) output.push(moved(memo[k]!, t.loc, k === 0 ? t.space : memo[k]!.space));
          work += memo.length;
          continue;
        }
        pushReversed(stack, this.substitute(macro, [], t, hide));
        continue;
      }
      if (stack[stack.length - 1]?.text !== '(') { output.push(t); continue; }
      const args = this.collectArguments(stack, macro, t);
      pushReversed(stack, this.substitute(macro, args, t, hide));
    }
    return output;
  }

  /**
   * The full expansion of object-like macro `macro` at `t`, from the memo, or
   * undefined where it must be expanded in place. Reuse is exact when no macro
   * the body can reach is in `t`'s hide set (the hide set then changes nothing)
   * and the expansion ends in no function-like macro name that following tokens
   * could call.
   */
  private expandObject(macro: MacroDefinition, t: Token): Token[] | undefined {
    if (this.nesting >= MAX_MACRO_NESTING / 2) return undefined; // deep chains of macros expand in place, iteratively
    this.graph ??= macroGraph(this.macros);
    const c = this.graph.component.get(macro.name)!;
    if (this.graph.pastes[c]) return undefined; // `##` can make names the body does not spell
    // Every name in a hide set produced the token, so it reaches `macro`; it is reachable back only within one component.
    if (t.hide) for (const h of t.hide) if (this.graph.component.get(h) === c) return undefined;
    let memo = this.memo.get(macro.name);
    if (memo === undefined) {
      this.memo.set(macro.name, null); // while computing: expand in place
      try {
        const out = this.expand([{ kind: 'ident', text: macro.name, loc: macro.loc, space: false }]);
        const open = out.some((o) => o.kind === 'ident' && this.macros.get(o.text)?.params && !o.hide?.has(o.text));
        memo = open ? null : out;
      } catch (e) {
        if (!(e instanceof HeaderError)) throw e;
        memo = e;
      }
      this.memo.set(macro.name, memo);
    }
    if (memo instanceof HeaderError) throw new HeaderError(t.loc, memo.detail);
    return memo ?? undefined;
  }

  /** Takes `( args )` off the top of `stack` (the next token last). */
  private collectArguments(stack: Token[], macro: MacroDefinition, at: Token): Token[][] {
    stack.pop(); // '('
    const args: Token[][] = [[]];
    let depth = 0;
    for (;;) {
      const t = stack.pop();
      if (!t) throw new HeaderError(at.loc, `unterminated argument list of macro ${macro.name}`);
      if (t.text === '(') depth++;
      else if (t.text === ')') {
        if (depth === 0) break;
        depth--;
      } else if (t.text === ',' && depth === 0 && !(macro.variadic && args.length === macro.params!.length)) {
        args.push([]);
        continue;
      }
      args[args.length - 1]!.push(t);
    }
    const params = macro.params!;
    if (args.length === 1 && args[0]!.length === 0 && params.length === 0) return [];
    if (macro.variadic && args.length === params.length - 1) args.push([]);
    if (args.length !== params.length) {
      throw new HeaderError(at.loc, `macro ${macro.name} takes ${params.length} argument(s), given ${args.length}`);
    }
    return args;
  }

  /** The replacement list of one invocation, with `#`, `##` and arguments substituted. */
  private substitute(macro: MacroDefinition, args: readonly Token[][], at: Token, hide: ReadonlySet<string>): Token[] {
    const params = macro.params ?? [];
    const argOf = (t: Token | undefined) => (t && t.kind === 'ident' ? params.indexOf(t.text) : -1);
    const expandedArgs = new Map<number, Token[]>();
    // One object shape, no spread; a token already hidden from nothing beyond `hide` shares its set (sets are never changed).
    const hiddenToo = (h: ReadonlySet<string>) => {
      for (const n of h) if (!hide.has(n)) return new Set([...h, ...hide]);
      return hide;
    };
    const relocate = (t: Token, space: boolean): Token => ({ kind: t.kind, text: t.text, loc: at.loc, space, hide: t.hide ? hiddenToo(t.hide) : hide });
    const result: Token[] = [];
    const body = macro.body;
    for (let i = 0; i < body.length; i++) {
      const t = body[i]!;
      const space = i === 0 ? at.space : t.space;
      if (t.text === '#' && macro.params && argOf(body[i + 1]) >= 0) {
        const arg = args[argOf(body[i + 1])]!;
        result.push({ kind: 'string', text: JSON.stringify(arg.map((a, k) => (k > 0 && a.space ? ' ' : '') + a.text).join('')), loc: at.loc, space, hide });
        i++;
        continue;
      }
      const p = argOf(t);
      if (p >= 0) {
        const pasted = body[i - 1]?.text === '##' || body[i + 1]?.text === '##';
        let replacement: Token[];
        if (pasted) replacement = args[p]!;
        else {
          if (!expandedArgs.has(p)) expandedArgs.set(p, this.expand(args[p]!));
          replacement = expandedArgs.get(p)!;
        }
        for (let k = 0; k < replacement.length; k++) result.push(moved(replacement[k]!, at.loc, k === 0 ? space : replacement[k]!.space));
        // GNU comma elision: `, ## args` with an empty variadic argument drops the comma (bpf.h's `##ctx`).
        // With a non-empty one, the comma stays and nothing is pasted.
        if (macro.variadic && p === params.length - 1 && result[result.length - 1]?.text === '##' && result[result.length - 2]?.text === ',') {
          result.length -= replacement.length === 0 ? 2 : 1;
          if (replacement.length === 0) continue;
        }
        if (replacement.length === 0 && pasted) result.push({ kind: 'other', text: '', loc: at.loc, space });
        continue;
      }
      result.push(relocate(t, space));
    }
    return pasteTokens(result, at);
  }
}

/** Strongly connected components of the macro reference graph (an edge for each macro name in a body). */
interface MacroGraph {
  readonly component: Map<string, number>;
  /** Per component: some macro reachable from it pastes tokens with `##`. */
  readonly pastes: boolean[];
}

/** Tarjan's algorithm, iteratively (macro chains may be long); components come out sinks first. */
function macroGraph(macros: ReadonlyMap<string, MacroDefinition>): MacroGraph {
  const edges = (name: string) => {
    const out = new Set<string>();
    for (const b of macros.get(name)!.body) if (b.kind === 'ident' && macros.has(b.text)) out.add(b.text);
    return [...out];
  };
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const component = new Map<string, number>();
  const pastes: boolean[] = [];
  let next = 0;
  for (const root of macros.keys()) {
    if (index.has(root)) continue;
    const work: { name: string; out: string[]; i: number }[] = [];
    const open = (name: string) => {
      index.set(name, next); low.set(name, next); next++;
      stack.push(name); onStack.add(name);
      work.push({ name, out: edges(name), i: 0 });
    };
    open(root);
    while (work.length > 0) {
      const top = work[work.length - 1]!;
      if (top.i < top.out.length) {
        const w = top.out[top.i++]!;
        if (!index.has(w)) open(w);
        else if (onStack.has(w)) low.set(top.name, Math.min(low.get(top.name)!, index.get(w)!));
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent) low.set(parent.name, Math.min(low.get(parent.name)!, low.get(top.name)!));
      if (low.get(top.name) !== index.get(top.name)) continue;
      const id = pastes.length;
      let paste = false;
      const members: string[] = [];
      for (;;) {
        const w = stack.pop()!;
        onStack.delete(w);
        component.set(w, id);
        members.push(w);
        if (w === top.name) break;
      }
      for (const m of members) {
        for (const b of macros.get(m)!.body) {
          if (b.text === '##') paste = true;
          const d = b.kind === 'ident' ? component.get(b.text) : undefined;
          if (d !== undefined && d !== id && pastes[d]) paste = true;
        }
      }
      pastes.push(paste);
    }
  }
  return { component, pastes };
}

/** `t` at another place (one object shape for every token: spreading is several times slower on long expansions). */
function moved(t: Token, loc: SourceLoc, space: boolean): Token {
  return t.hide ? { kind: t.kind, text: t.text, loc, space, hide: t.hide } : { kind: t.kind, text: t.text, loc, space };
}

function pushReversed(stack: Token[], tokens: readonly Token[]): void {
  for (let i = tokens.length - 1; i >= 0; i--) stack.push(tokens[i]!);
}

function exists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Reads a header: a regular file (not a device, FIFO or directory) of at most
 * MAX_FILE_BYTES, checked on the open descriptor so nothing can change in between.
 */
export function readHeaderFile(file: string, from: SourceLoc): string {
  let fd: number;
  try {
    // O_NONBLOCK: opening a FIFO must not wait for a writer (fstat then refuses it).
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    throw new HeaderError(from, `cannot read ${file}: ${(e as Error).message}`);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new HeaderError(from, `cannot read ${file}: not a regular file`);
    if (st.size > MAX_FILE_BYTES) throw new HeaderError(from, ourLimit(`${file} (${st.size} bytes)`, `${MAX_FILE_BYTES} bytes per file`));
    const buf = Buffer.alloc(st.size + 1);
    let n = 0;
    // Read one byte beyond the size seen: a file that grows meanwhile is refused rather than read without end.
    for (let r; n < buf.length && (r = readSync(fd, buf, n, buf.length - n, null)) > 0;) n += r;
    if (n > st.size) throw new HeaderError(from, `cannot read ${file}: it changed while being read`);
    return buf.subarray(0, n).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

/** Applies `##` in a replacement list. */
function pasteTokens(tokens: Token[], at: Token): Token[] {
  const out: Token[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t.text === '##' && t.kind === 'punct' && out.length > 0 && i + 1 < tokens.length) {
      const left = out.pop()!;
      const right = tokens[++i]!;
      const text = left.text + right.text;
      const relexed = lex(at.loc.file, text).lines[0]?.tokens ?? [];
      if (relexed.length > 1) throw new HeaderError(at.loc, `pasting '${left.text}' and '${right.text}' does not give a valid token`);
      const kind = relexed[0]?.kind ?? 'other';
      out.push({ kind, text, loc: at.loc, space: left.space, hide: left.hide });
      continue;
    }
    out.push(t);
  }
  return out.filter((t) => !(t.kind === 'other' && t.text === ''));
}
