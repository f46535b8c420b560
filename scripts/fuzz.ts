/**
 * The fuzz campaign (`npm run fuzz`): a seeded, bounded mutator of the corpus
 * headers plus hand-made hostile shapes. Each mutant goes through our
 * `vfio-uapi layout --json` (a child process with a 10 s and 1 GiB budget) and
 * through `clang -fsyntax-only` for x86_64; the verdicts are compared.
 *
 * Reported: mutants run, agreement with clang on accept/reject, silent
 * acceptances (we exit 0 where clang rejects), over-rejections (we refuse what
 * clang accepts; a limit of ours says so), stack traces, errors without a
 * location, timeouts and memory blow-ups. Exit 1 when any of the bad kinds
 * occurs, 2 without clang or the corpus.
 *
 * `node dist/scripts/fuzz.js [--seed N] [--count N] [--no-hostile] [--generate-every N] [--json]`
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { abiByName } from '../generator/abi/abis.js';
import { clangArgs, findClang } from '../conformance/clang/toolchain.js';
import { ensureUapiTree } from '../conformance/clang/uapi-tree.js';
import { isMainModule } from './is-main.js';

/**
 * Budget of one run of ours, as the issue sets it: 10 s of CPU time (user +
 * system, measured by the child itself: on a shared machine wall-clock time
 * measures the neighbours), and a wall-clock limit far beyond it for hangs.
 */
export const TIME_BUDGET_MS = 10_000;
export const WALL_LIMIT_MS = 120_000;
export const MEMORY_BUDGET_BYTES = 1024 ** 3;

/**
 * Warnings clang gives where ISO C says the header is invalid (it accepts them as
 * GNU extensions): the generator refuses them, so the campaign counts them as
 * clang rejections. Each names a construct C does not allow.
 */
export const CLANG_STRICT_FLAGS = [
  '-Werror=gnu-folding-constant', // an overflowing "constant" expression (INT64_MIN % -1) is not an integer constant expression
  '-Werror=gnu-empty-struct', // a struct whose only member is a flexible array
  '-Werror=integer-overflow',
];

/** A header to try: its text, and where it came from. */
export interface Mutant {
  readonly id: string;
  /** `corpus VERSION/NAME: what was changed`, or `hostile: what`. */
  readonly origin: string;
  /** The file name it is written under (a corpus header's own, so its siblings resolve). */
  readonly name: string;
  readonly text: string;
  /** The directory of the original header (its siblings are visible to both compilers). */
  readonly siblingsOf?: string;
}

/** What happened to one mutant. */
export interface Outcome {
  readonly mutant: Mutant;
  readonly ours: 'accept' | 'reject' | 'stack-trace' | 'unlocated' | 'timeout' | 'memory';
  readonly clang: 'accept' | 'reject';
  readonly ms: number;
  readonly rssBytes?: number;
  /** CPU time (user + system) of our run. */
  readonly cpuMs?: number;
  readonly message: string;
  /** Our rejection names a limit of ours rather than a C rule. */
  readonly ourLimit: boolean;
}

/** mulberry32: a small seeded generator, so that a seed reproduces a campaign. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SNIPPETS_IN_RECORD = [
  'float f:3;', '__u32 :32;', '__u32 z:0;', '__u32 :0;', 'int x[2]:3;', '__u8 pad:4, :4;', '_Alignas(3) __u32 al;',
  '_Alignas(8) __u32 al8;', '__u32 big[1ULL<<40][1ULL<<40];', '__u32 neg[-1];', '__u64 w __attribute__((aligned(3)));',
  '__u32 argsz;', '__u8 flex[];', 'struct nosuch n;', '__u32 bf:33;',
];
const SNIPPETS_TOP = [
  'enum { FUZZ_DIV = 1 / 0 };', 'enum { FUZZ_MOD = (-9223372036854775807LL - 1) % -1 };', '#define FUZZ_REC FUZZ_REC\nenum { FUZZ_R = FUZZ_REC };',
  'enum { FUZZ_BIG = 18446744073709551616 };', 'struct fuzz_flex { __u32 d[]; };', 'struct fuzz_al { __u32 a; } __attribute__((aligned(1ULL<<40)));',
  'enum { FUZZ_A = 1, FUZZ_A = 2 };', '#include "/dev/zero"', '#if 1', '#endif', 'stbuct fuzz_typo { int a; };', 'int;',
  'typedef int fuzz_t; typedef long fuzz_t;', '#define FUZZ_OK (1 << 31)', 'enum { FUZZ_OV = 2147483647 + 1 };',
];
const NUMBERS = ['0', '-1', '3', '18446744073709551616', '0xffffffffffffffff', '(1ULL<<40)', '2147483648', '(-2147483647-1)', '4294967296'];
const TYPOS: Record<string, string> = { struct: 'stbuct', union: 'unoin', enum: 'eunm', __u32: '__u33', __u64: '_u64', define: 'defien', typedef: 'typdef' };

/** One random change to `text`, described. */
function mutate(text: string, r: () => number): { text: string; what: string } {
  const lines = text.split('\n');
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const li = Math.floor(r() * lines.length);
  const recordLines = lines.map((l, i) => ({ l, i })).filter((x) => /^\s+(__u|__s|__aligned|struct |union |__le|__be|int |char )\w*/.test(x.l) && /;\s*(\/\*.*)?$/.test(x.l));
  switch (Math.floor(r() * 9)) {
    case 0: lines.splice(li, 1); return { text: lines.join('\n'), what: `deleted line ${li + 1}` };
    case 1: {
      const x = recordLines.length ? pick(recordLines) : { l: lines[li]!, i: li };
      lines.splice(x.i, 0, x.l);
      return { text: lines.join('\n'), what: `duplicated line ${x.i + 1}` };
    }
    case 2: {
      const cands = lines.map((l, i) => ({ l, i })).filter((x) => Object.keys(TYPOS).some((k) => new RegExp(`\\b${k}\\b`).test(x.l)));
      if (!cands.length) break;
      const x = pick(cands);
      const k = pick(Object.keys(TYPOS).filter((w) => new RegExp(`\\b${w}\\b`).test(x.l)));
      lines[x.i] = x.l.replace(new RegExp(`\\b${k}\\b`), TYPOS[k]!);
      return { text: lines.join('\n'), what: `typo ${k} -> ${TYPOS[k]} on line ${x.i + 1}` };
    }
    case 3: {
      const cands = lines.map((l, i) => ({ l, i })).filter((x) => /\b\d+\b/.test(x.l) && !/^\s*(\*|\/\*)/.test(x.l));
      if (!cands.length) break;
      const x = pick(cands);
      const n = pick(NUMBERS);
      lines[x.i] = x.l.replace(/\b\d+\b/, n);
      return { text: lines.join('\n'), what: `number -> ${n} on line ${x.i + 1}` };
    }
    case 4: {
      const cands = lines.map((l, i) => ({ l, i })).filter((x) => /[;{}()[\]]/.test(x.l));
      if (!cands.length) break;
      const x = pick(cands);
      const positions = [...x.l.matchAll(/[;{}()[\]]/g)].map((m) => m.index!);
      const p = pick(positions);
      lines[x.i] = x.l.slice(0, p) + x.l.slice(p + 1);
      return { text: lines.join('\n'), what: `deleted '${x.l[p]}' on line ${x.i + 1}` };
    }
    case 5: {
      if (li + 1 >= lines.length) break;
      [lines[li], lines[li + 1]] = [lines[li + 1]!, lines[li]!];
      return { text: lines.join('\n'), what: `swapped lines ${li + 1} and ${li + 2}` };
    }
    case 6: {
      if (!recordLines.length) break;
      const x = pick(recordLines);
      const s = pick(SNIPPETS_IN_RECORD);
      lines.splice(x.i + 1, 0, `\t${s}`);
      return { text: lines.join('\n'), what: `inserted '${s}' after line ${x.i + 1}` };
    }
    case 7: {
      const s = pick(SNIPPETS_TOP);
      // At a line between declarations (outside any comment or record): before a #define or at the end.
      const tops = lines.map((l, i) => ({ l, i })).filter((x) => /^#define\b/.test(x.l));
      const at = tops.length ? pick(tops).i : lines.length;
      lines.splice(at, 0, s);
      return { text: lines.join('\n'), what: `inserted '${s.replace(/\n/g, ' ')}' at line ${at + 1}` };
    }
    case 8: {
      // Rename a member to its predecessor's name: a duplicate member.
      const pairs = recordLines.filter((x) => recordLines.some((y) => y.i === x.i - 1));
      if (!pairs.length) break;
      const x = pick(pairs);
      const prev = /(\w+)\s*(\[[^\]]*\])*\s*;/.exec(lines[x.i - 1]!)?.[1];
      if (!prev) break;
      lines[x.i] = x.l.replace(/(\w+)(\s*(\[[^\]]*\])*\s*;)/, `${prev}$2`);
      return { text: lines.join('\n'), what: `member on line ${x.i + 1} renamed to '${prev}'` };
    }
  }
  lines.splice(li, 1);
  return { text: lines.join('\n'), what: `deleted line ${li + 1}` };
}

/** The hostile shapes of issue 13, at the sizes it found them. */
export function hostileShapes(): { what: string; text: string }[] {
  const rep = (s: string, n: number, sep = '') => Array.from({ length: n }, () => s).join(sep);
  return [
    { what: '10k nested parentheses in #if', text: `#if ${rep('(', 10000)}1${rep(')', 10000)}\n#endif\nstruct s { int a; };\n` },
    { what: '10k nested parentheses in an enum value', text: `enum { A = ${rep('(', 10000)}1${rep(')', 10000)} };\n` },
    { what: '10k nested parentheses in an array size', text: `struct s { char a[${rep('(', 10000)}1${rep(')', 10000)}]; };\n` },
    { what: '10k nested ?:', text: `enum { A = ${rep('1 ? ', 10000)}1${rep(' : 0', 10000)} };\n` },
    { what: 'a function-like macro nested 20 deep', text: `#define F(x) (x + x)\nenum { A = ${rep('F(', 20)}1${rep(')', 20)} };\n` },
    { what: 'a 90k-enumerator line', text: `enum { ${Array.from({ length: 90000 }, (_, i) => `E${i}`).join(', ')} };\n` },
    { what: 'a 16k-term #if', text: `#if ${rep('1', 16000, ' + ')}\n#endif\nstruct s { int a; };\n` },
    { what: '10k array dimensions', text: `struct s { char a${rep('[1]', 10000)}; };\n` },
    { what: '#include of /dev/zero', text: '#include "/dev/zero"\nstruct s { int a; };\n' },
    { what: '24 unused doubling macros', text: `#define E0 1\n${Array.from({ length: 24 }, (_, i) => `#define E${i + 1} (E${i} + E${i})`).join('\n')}\nstruct s { int a; };\n` },
    { what: '64 unused doubling macros', text: `#define E0 1\n${Array.from({ length: 64 }, (_, i) => `#define E${i + 1} (E${i} + E${i})`).join('\n')}\nstruct s { int a; };\n` },
    { what: '24 doubling macros, the last used', text: `#define E0 1\n${Array.from({ length: 24 }, (_, i) => `#define E${i + 1} (E${i} + E${i})`).join('\n')}\nenum { X = E24 };\n` },
    { what: 'a 1 MB expression', text: `enum { A = ${rep('1', 250000, ' + ')} };\n` },
    { what: 'a 1 MB balanced expression', text: `enum { A = ${balanced(16)} };\n` },
    { what: '10k nested unions', text: `struct s { ${rep('union { ', 10000)}int a; ${rep('}; ', 10000)}};\n` },
    { what: 'a chain of 1000 structs each containing the previous', text: `struct s0 { int a; };\n${Array.from({ length: 1000 }, (_, i) => `struct s${i + 1} { struct s${i} a; };`).join('\n')}\n` },
    { what: 'a chain of 5000 object-like macros', text: `${Array.from({ length: 5000 }, (_, i) => `#define A${i + 1} A${i}`).join('\n')}\n#define A0 1\nenum { X = A5000 };\n` },
    { what: 'a 10k-long chain of macro calls in arguments', text: `#define F(x) x\nenum { A = ${rep('F(', 10000)}1${rep(')', 10000)} };\n` },
    { what: 'a keyword typo', text: 'struct ok { int a; };\nstbuct foo { int a; };\n' },
    { what: 'duplicate members', text: 'struct s { int a; int a; };\n' },
    { what: 'a duplicate member inside an anonymous member', text: 'struct s { int a; union { int a; int b; }; };\n' },
    { what: 'division by zero in an enum after an ioctl', text: '#include <linux/ioctl.h>\n#define X_IO _IO(1, 2)\nenum { A = 1 / 0 };\n' },
    { what: 'a recursive macro as an enum value', text: '#define R R\nenum e { X = R };\nstruct s { int a; };\n' },
    { what: 'float bit-field', text: 'struct s { float f:3; };\n' },
    { what: 'struct bit-field', text: 'struct t { int a; };\nstruct s { struct t x:3; };\n' },
    { what: 'array bit-field', text: 'struct s { int x[2]:3; };\n' },
    { what: 'named zero-width bit-field', text: 'struct s { int a; int z:0; };\n' },
    { what: 'aligned(3)', text: 'struct s { int a; } __attribute__((aligned(3)));\n' },
    { what: '_Alignas(3)', text: 'struct s { _Alignas(3) int a; };\n' },
    { what: 'aligned(1ULL<<40)', text: 'struct s { int a; } __attribute__((aligned(1ULL<<40)));\n' },
    { what: 'a struct with only a flexible array', text: 'struct s { int d[]; };\n' },
    { what: 'a literal of 2^64', text: 'enum { B = 18446744073709551616 };\n' },
    { what: 'an array of 2^80 bytes', text: 'struct s { char a[1ULL<<40][1ULL<<40]; };\n' },
    { what: 'a redefined enumerator', text: 'enum { A = 1, A = 2 };\n' },
    { what: 'INT64_MIN % -1', text: 'enum { A = (-9223372036854775807LL - 1) % -1 };\n' },
    { what: 'unnamed bit-fields as padding', text: 'struct s { __u32 a; __u32 :32; __u32 b:3, :5, c:4; };\n' },
  ];
}

function balanced(depth: number): string {
  return depth === 0 ? '1' : `(${balanced(depth - 1)} + ${balanced(depth - 1)})`;
}

/** The corpus headers and `count` seeded mutants of them (plus the hostile shapes unless `hostile` is false). */
export async function makeMutants(corpus: string, opts: { seed: number; count: number; hostile?: boolean }): Promise<Mutant[]> {
  const r = rng(opts.seed);
  const sources: { version: string; name: string; dir: string; text: string }[] = [];
  for (const v of (await readdir(corpus, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name).sort()) {
    for (const name of (await readdir(join(corpus, v))).filter((f) => f.endsWith('.h')).sort()) {
      sources.push({ version: v, name, dir: join(corpus, v), text: await readFile(join(corpus, v, name), 'utf8') });
    }
  }
  const out: Mutant[] = [];
  for (let i = 0; i < opts.count && sources.length; i++) {
    const src = sources[Math.floor(r() * sources.length)]!;
    let text = src.text;
    const whats: string[] = [];
    const n = 1 + Math.floor(r() * 3);
    for (let k = 0; k < n; k++) {
      const m = mutate(text, r);
      text = m.text;
      whats.push(m.what);
    }
    out.push({ id: `m${i}`, origin: `corpus ${src.version}/${src.name}: ${whats.join('; ')}`, name: src.name, text, siblingsOf: src.dir });
  }
  if (opts.hostile !== false) hostileShapes().forEach((h, i) => out.push({ id: `h${i}`, origin: `hostile: ${h.what}`, name: 'hostile.h', text: h.text }));
  return out;
}

/** Runs `argv` with a time budget; reports its exit, output, time and peak RSS (via a preloaded exit hook). */
function run(argv: readonly string[], timeoutMs: number, rssHook: string): Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string; ms: number; timedOut: boolean; rss?: number; cpuMs?: number }> {
  return new Promise((done) => {
    const started = performance.now();
    const child = spawn(process.execPath, ['--require', rssHook, `--max-old-space-size=${MEMORY_BUDGET_BYTES / 1024 ** 2}`, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let outBytes = 0;
    child.stdout.on('data', (d: Buffer) => { outBytes += d.length; if (stdout.length < 1 << 16) stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { if (stderr.length < 1 << 16) stderr += d.toString(); });
    let timedOut = false;
    const timer = setTimeout(() => { timedOut = true; child.kill('SIGKILL'); }, timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const m = /@@maxrss (\d+) cpu (\d+)/.exec(stderr);
      done({
        code, signal, stdout, stderr: stderr.replace(/\n?@@maxrss \d+ cpu \d+\n?/, ''), ms: performance.now() - started, timedOut,
        rss: m ? Number(m[1]) * 1024 : undefined, cpuMs: m ? Number(m[2]) / 1000 : undefined,
      });
      void outBytes;
    });
  });
}

/** Classifies our run of one mutant. */
function ourVerdict(r: Awaited<ReturnType<typeof run>>): { verdict: Outcome['ours']; message: string } {
  const firstLine = r.stderr.split('\n').find((l) => l.trim()) ?? '';
  if (r.timedOut) return { verdict: 'timeout', message: `killed after ${WALL_LIMIT_MS} ms of wall-clock time` };
  if ((r.cpuMs ?? 0) > TIME_BUDGET_MS) return { verdict: 'timeout', message: `${Math.round(r.cpuMs!)} ms of CPU time` };
  if ((r.rss ?? 0) > MEMORY_BUDGET_BYTES || /heap out of memory|Allocation failed/.test(r.stderr)) return { verdict: 'memory', message: `peak RSS ${r.rss ?? '?'} bytes` };
  if (/^\s+at .*[(:]\d+/m.test(r.stderr) || r.signal) return { verdict: 'stack-trace', message: r.stderr.split('\n').slice(0, 4).join(' | ') || `signal ${r.signal}` };
  if (r.code === 0) return { verdict: 'accept', message: '' };
  if (/^vfio-uapi: .+:\d+:\d+: error: /.test(firstLine)) return { verdict: 'reject', message: firstLine };
  return { verdict: 'unlocated', message: firstLine };
}

/** Runs the campaign over `mutants` with `concurrency` workers. */
export async function runCampaign(mutants: readonly Mutant[], opts: { concurrency?: number; generateEvery?: number; log?: (s: string) => void } = {}): Promise<Outcome[]> {
  const abi = abiByName('x86_64');
  const clang = findClang(abi);
  const includeRoot = await ensureUapiTree();
  // The built CLI: beside this module in dist/, or in dist/ when this runs from source (vitest).
  const built = resolve(import.meta.dirname, '..', 'bin', 'vfio-uapi.js');
  const cli = existsSync(built) ? built : resolve(import.meta.dirname, '..', 'dist', 'bin', 'vfio-uapi.js');
  const work = await mkdtemp(join(tmpdir(), 'vfio-uapi-fuzz-'));
  const rssHook = join(work, 'rss.cjs');
  await writeFile(rssHook, "process.on('exit', () => { try { process.stderr.write('\\n@@maxrss ' + process.resourceUsage().maxRSS + ' cpu ' + (process.resourceUsage().userCPUTime + process.resourceUsage().systemCPUTime) + '\\n'); } catch {} });\n");
  const implicit = ['linux/types.h', 'linux/ioctl.h', 'linux/stddef.h', 'linux/const.h'].map((h) => `#include <${h}>\n`).join('');
  const outcomes: Outcome[] = new Array(mutants.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < mutants.length; i = next++) {
      const m = mutants[i]!;
      const dir = join(work, m.id);
      await mkdir(join(dir, 'inc', 'linux'), { recursive: true });
      if (m.siblingsOf) {
        for (const f of (await readdir(m.siblingsOf)).filter((x) => x.endsWith('.h') && x !== m.name)) {
          await symlink(join(m.siblingsOf, f), join(dir, f));
          await symlink(join(m.siblingsOf, f), join(dir, 'inc', 'linux', f));
        }
      }
      const header = join(dir, m.name);
      await writeFile(header, m.text);
      await writeFile(join(dir, 'tu.c'), `${implicit}#include "${m.name}"\n`);
      const ours = await run([cli, 'layout', '--header', header, '--abi', 'x86_64', '--json'], WALL_LIMIT_MS, rssHook);
      let v = ourVerdict(ours);
      if (v.verdict === 'accept' && opts.generateEvery && i % opts.generateEvery === 0) {
        const gen = await run([cli, 'generate', '--header', header, '--out', join(dir, 'gen')], WALL_LIMIT_MS, rssHook);
        const g = ourVerdict(gen);
        if (g.verdict !== 'accept') v = { verdict: g.verdict === 'reject' ? 'reject' : g.verdict, message: `generate: ${g.message}` };
      }
      const c = await new Promise<number>((done) => {
        const p = spawn(clang.path, [...clangArgs(abi, includeRoot, [dir, join(dir, 'inc')]), ...CLANG_STRICT_FLAGS, '-fsyntax-only', '-ferror-limit=1', join(dir, 'tu.c')], { stdio: 'ignore' });
        const t = setTimeout(() => p.kill('SIGKILL'), 60_000);
        p.on('close', (code) => { clearTimeout(t); done(code ?? 1); });
      });
      outcomes[i] = {
        mutant: m, ours: v.verdict, clang: c === 0 ? 'accept' : 'reject', ms: ours.ms, rssBytes: ours.rss, cpuMs: ours.cpuMs,
        message: v.message, ourLimit: /a limit of vfio-uapi/.test(v.message),
      };
      await rm(dir, { recursive: true, force: true });
      opts.log?.(`${i + 1}/${mutants.length} ${m.id} ours=${v.verdict} clang=${c === 0 ? 'accept' : 'reject'} ${Math.round(ours.cpuMs ?? NaN)} ms CPU, ${Math.round(ours.ms)} ms wall`);
    }
  };
  try {
    await Promise.all(Array.from({ length: opts.concurrency ?? 2 }, worker));
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  return outcomes;
}

/** The campaign's figures. */
export function summarize(outcomes: readonly Outcome[]) {
  const count = (f: (o: Outcome) => boolean) => outcomes.filter(f).length;
  const decided = outcomes.filter((o) => o.ours === 'accept' || o.ours === 'reject');
  return {
    mutants: outcomes.length,
    agree: count((o) => (o.ours === 'accept' && o.clang === 'accept') || (o.ours === 'reject' && o.clang === 'reject')),
    decided: decided.length,
    acceptedBoth: count((o) => o.ours === 'accept' && o.clang === 'accept'),
    rejectedBoth: count((o) => o.ours === 'reject' && o.clang === 'reject'),
    silentAcceptances: outcomes.filter((o) => o.ours === 'accept' && o.clang === 'reject'),
    overRejections: outcomes.filter((o) => o.ours === 'reject' && o.clang === 'accept'),
    overRejectionsOurLimit: count((o) => o.ours === 'reject' && o.clang === 'accept' && o.ourLimit),
    stackTraces: outcomes.filter((o) => o.ours === 'stack-trace'),
    unlocated: outcomes.filter((o) => o.ours === 'unlocated'),
    timeouts: outcomes.filter((o) => o.ours === 'timeout'),
    memory: outcomes.filter((o) => o.ours === 'memory'),
    slowestMs: Math.max(0, ...outcomes.map((o) => o.ms)),
    slowestCpuMs: Math.max(0, ...outcomes.map((o) => o.cpuMs ?? 0)),
    largestRss: Math.max(0, ...outcomes.map((o) => o.rssBytes ?? 0)),
  };
}

/** The figures as text: one line each, then every bad case with its origin. */
export function formatSummary(s: ReturnType<typeof summarize>, seed: number): string {
  const lines = [
    `fuzz campaign, seed ${seed}: ${s.mutants} mutants run`,
    `agreement with clang on accept/reject: ${s.agree}/${s.mutants} (both accept ${s.acceptedBoth}, both reject ${s.rejectedBoth})`,
    `silent acceptances of invalid C: ${s.silentAcceptances.length}`,
    `rejections of what clang accepts: ${s.overRejections.length} (${s.overRejectionsOurLimit} of them a stated limit of ours)`,
    `stack traces: ${s.stackTraces.length}; errors without a location: ${s.unlocated.length}`,
    `timeouts (> ${TIME_BUDGET_MS / 1000} s of CPU time, or ${WALL_LIMIT_MS / 1000} s wall-clock): ${s.timeouts.length}; memory blow-ups (> 1 GiB): ${s.memory.length}`,
    `slowest run: ${(s.slowestCpuMs / 1000).toFixed(2)} s of CPU time (${(s.slowestMs / 1000).toFixed(2)} s wall-clock on this machine); largest peak RSS ${(s.largestRss / 1024 ** 2).toFixed(0)} MiB`,
  ];
  const show = (title: string, list: readonly Outcome[]) => {
    if (list.length === 0) return;
    lines.push(`${title}:`);
    for (const o of list) lines.push(`  - ${o.mutant.id} (${o.mutant.origin})${o.message ? `: ${o.message}` : ''}`);
  };
  show('silent acceptances', s.silentAcceptances);
  show('stack traces', s.stackTraces);
  show('errors without a location', s.unlocated);
  show('timeouts', s.timeouts);
  show('memory blow-ups', s.memory);
  show('rejections of what clang accepts', s.overRejections);
  return `${lines.join('\n')}\n`;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const opt = (name: string, dflt: number) => {
    const i = args.indexOf(name);
    return i >= 0 ? Number(args[i + 1]) : dflt;
  };
  const seed = opt('--seed', 13);
  const count = opt('--count', 400);
  const corpus = resolve(process.env.VFIO_UAPI_CORPUS ?? join(import.meta.dirname, '..', '..', '..', 'shared', 'uapi'));
  let mutants: Mutant[];
  try {
    mutants = await makeMutants(corpus, { seed, count, hostile: !args.includes('--no-hostile') });
  } catch (e) {
    process.stderr.write(`fuzz: cannot read the corpus at ${corpus}: ${(e as Error).message}\n`);
    process.exitCode = 2;
    return;
  }
  const outcomes = await runCampaign(mutants, { generateEvery: opt('--generate-every', 5), log: (l) => process.stderr.write(`${l}\n`) });
  const s = summarize(outcomes);
  if (args.includes('--json')) {
    process.stdout.write(`${JSON.stringify({ seed, ...s, silentAcceptances: s.silentAcceptances.map((o) => o.mutant.origin), overRejections: s.overRejections.map((o) => `${o.mutant.origin}: ${o.message}`), stackTraces: s.stackTraces.map((o) => o.mutant.origin), unlocated: s.unlocated.map((o) => o.mutant.origin), timeouts: s.timeouts.map((o) => o.mutant.origin), memory: s.memory.map((o) => o.mutant.origin) }, null, 2)}\n`);
  } else process.stdout.write(formatSummary(s, seed));
  if (s.silentAcceptances.length + s.stackTraces.length + s.unlocated.length + s.timeouts.length + s.memory.length > 0) process.exitCode = 1;
}

if (isMainModule(import.meta.url)) {
  main().catch((e: unknown) => {
    const err = e as Error;
    process.stderr.write(`fuzz: ${err.message}\n`);
    process.exitCode = err.name === 'MissingPrerequisite' ? 2 : 1;
  });
}
