/**
 * `npm run sweep`: every UAPI header of Debian's linux-libc-dev (>= 6.12) laid out on all 13 ABIs by the
 * generator (`--include` the tree) and compared with the clang oracle (the same tree, plus each ABI's
 * glibc from Debian 12's `libc6-dev-<arch>-cross` for the libc headers UAPI headers include).
 * Writes docs/uapi-sweep.md.
 *
 * - Headers: every `.h` under the tree's UAPI directories (linux/, asm-generic/, drm/, ...) on every ABI,
 *   and each ABI's own `<triplet>/asm/*.h` on that ABI.
 * - Resumable: each clang answer is cached under `<cache>/sweep/<linux-libc-dev version>/clang-<N>/`; a rerun
 *   measures only what is missing (`--fresh` drops the cache). The generator side always runs.
 * - Parallel: one clang per core (`--jobs N`). Progress on stderr.
 * - `--only REGEX` restricts the headers (relative paths) for iterating on a subset; the report then says so
 *   and is written to `--out` (default docs/uapi-sweep.md only for a full run, else stdout).
 *
 * Not a test: it takes tens of minutes of CPU. Run it under `nice` on a shared machine.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { ABIS, abiByName, type Abi } from '../generator/abi/abis.js';
import { parseHeader, parseHeaderForAbis } from '../generator/parse/parse.js';
import { layoutJson, type LayoutJson } from '../generator/layout/json.js';
import type { HeaderIR } from '../generator/ir/types.js';
import { clangLayoutAll, OracleFailures } from '../conformance/clang/oracle.js';
import { compareLayouts, type Disagreement } from '../conformance/clang/compare.js';
import { findClang, libcIncludeDirs } from '../conformance/clang/toolchain.js';
import { createLimiter } from '../conformance/clang/limiter.js';
import { cachedUapiTreeVersion, defaultCacheDir, ensureUapiTree } from '../conformance/clang/uapi-tree.js';
import { isMainModule } from './is-main.js';

/** The tree's directories that hold kernel UAPI (the per-ABI `asm/` folders are handled apart). */
export const UAPI_DIRS = ['linux', 'asm-generic', 'drm', 'misc', 'mtd', 'rdma', 'regulator', 'scsi', 'sound', 'video', 'xen'] as const;

/** One header to sweep: its path relative to the include root (`asm/X.h` for an ABI's own), and the ABIs. */
export interface SweepItem {
  /** Report directory: the first path component (`linux`, `drm`, `asm`). */
  readonly dir: string;
  /** Include name (`linux/input.h`, `asm/kvm.h`). */
  readonly name: string;
  /** File on disk. */
  readonly file: string;
  readonly abis: readonly Abi[];
}

/** Every header of the tree at `root`, as sweep items (see the module doc). */
export function sweepItems(root: string, abis: readonly Abi[] = ABIS, only?: RegExp): SweepItem[] {
  const items: SweepItem[] = [];
  const walk = (dir: string, rel: string): string[] => readdirSync(dir).sort().flatMap((n) => {
    const p = path.join(dir, n);
    const r = rel ? `${rel}/${n}` : n;
    return statSync(p).isDirectory() ? walk(p, r) : n.endsWith('.h') ? [r] : [];
  });
  for (const top of UAPI_DIRS) {
    if (!existsSync(path.join(root, top))) continue;
    for (const name of walk(path.join(root, top), top)) {
      if (!only || only.test(name)) items.push({ dir: top, name, file: path.join(root, name), abis });
    }
  }
  for (const abi of abis) {
    const asm = path.join(root, abi.debianTriplet, 'asm');
    if (!existsSync(asm)) continue;
    for (const name of walk(asm, 'asm')) {
      if (!only || only.test(name)) items.push({ dir: 'asm', name, file: path.join(root, abi.debianTriplet, name), abis: [abi] });
    }
  }
  return items;
}

/**
 * The order clang measures in, so that a partial run (`--budget`) is representative: the interfaces Node
 * users of other kernel interfaces need first (input, video, sound, DRM, perf, io_uring, USB, SPI, GPIO,
 * networking, KVM, vhost, filesystems, MTD, RDMA), then the rest round-robin across directories and ABIs.
 */
export function measureOrder(items: readonly SweepItem[]): SweepItem[] {
  const first = /^(linux\/(input|uinput|input-event-codes|videodev2|v4l2-\w+|perf_event|io_uring|usbdevice_fs|usb\/\w+|spi\/spidev|gpio|i2c-dev|i2c|if|if_ether|if_tun|netlink|rtnetlink|socket|in|in6|tcp|kvm|vhost|vhost_types|fs|fuse|fiemap|stat|mount|userfaultfd|hidraw|uhid|fb|vfio|iommufd|dma-buf|ethtool|sockios|serial|tty|watchdog|mman|fcntl|eventpoll|inotify)\.h|sound\/asound\.h|drm\/(drm|drm_mode|i915_drm|amdgpu_drm)\.h|mtd\/\w+\.h|rdma\/(ib_user_verbs|rdma_user_cm)\.h|asm\/kvm\.h)$/;
  const groups = new Map<string, SweepItem[]>();
  for (const item of items) {
    const key = first.test(item.name) ? '' : `${item.dir} ${item.abis.length === 1 ? item.abis[0]!.name : ''}`;
    groups.set(key, [...(groups.get(key) ?? []), item]);
  }
  const out = [...(groups.get('') ?? [])];
  groups.delete('');
  const queues = [...groups.values()];
  for (let i = 0; out.length < items.length; i++) for (const q of queues) if (q[i]) out.push(q[i]!);
  return out;
}

/** A cached clang answer for one header on one ABI. */
type OracleEntry = { ok: LayoutJson } | { error: string };

/** The oracle's cache dir for this tree version and clang. */
function oracleCacheDir(cacheDir: string, version: string, clangMajor: number): string {
  return path.join(cacheDir, 'sweep', version.replace(/[^\w.+~-]/g, '_'), `clang-${clangMajor}`);
}

function cacheFile(dir: string, item: SweepItem, abi: Abi): string {
  return path.join(dir, abi.name, `${item.name.replace(/\//g, '__')}.json`);
}

async function writeAtomic(file: string, text: string): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, text);
  await rename(tmp, file);
}

/** Runs clang for every (item, ABI) not in the cache; returns every answer. */
async function runOracle(items: readonly SweepItem[], root: string, dir: string, jobs: number, budgetMs: number, log: (m: string) => void): Promise<Map<string, OracleEntry>> {
  const answers = new Map<string, OracleEntry>();
  const todo: { item: SweepItem; abis: Abi[] }[] = [];
  for (const item of measureOrder(items)) {
    const missing: Abi[] = [];
    for (const abi of item.abis) {
      const f = cacheFile(dir, item, abi);
      if (existsSync(f)) answers.set(`${item.name} ${abi.name}`, JSON.parse(await readFile(f, 'utf8')) as OracleEntry);
      else missing.push(abi);
    }
    if (missing.length) todo.push({ item, abis: missing });
  }
  const systemDirs = new Map<string, readonly string[]>();
  for (const abi of ABIS) systemDirs.set(abi.name, (await libcIncludeDirs(abi)) ?? []);
  log(`clang: ${answers.size} answers cached in ${dir}, ${todo.reduce((n, t) => n + t.abis.length, 0)} to measure (${jobs} at a time)`);
  const limit = createLimiter(jobs);
  const started = Date.now();
  let done = 0;
  let skipped = 0;
  await Promise.all(todo.map(({ item, abis }) => limit(async () => {
    if (Date.now() - started > budgetMs) { skipped++; return; }
    let results: readonly LayoutJson[] = [];
    let failures: readonly { abi: string; error: Error }[] = [];
    try {
      results = await clangLayoutAll([item.file], abis, { includeRoot: root, concurrency: 1, systemIncludeDirs: (a) => systemDirs.get(a.name) ?? [] });
    } catch (err) {
      if (!(err instanceof OracleFailures)) throw err;
      results = err.results;
      failures = err.failures;
    }
    for (const abi of abis) {
      const ok = results.find((r) => r.abi === abi.name);
      const failed = failures.find((f) => f.abi.split(',').includes(abi.name));
      const entry: OracleEntry = ok ? { ok: { ...ok, header: item.name } } : { error: (failed?.error.message ?? 'no answer').split('\n').slice(0, 4).join('\n') };
      answers.set(`${item.name} ${abi.name}`, entry);
      await writeAtomic(cacheFile(dir, item, abi), JSON.stringify(entry));
    }
    done++;
    const s = (Date.now() - started) / 1000;
    log(`clang [${done}/${todo.length}] ${item.name} (${abis.length} ABI${abis.length > 1 ? 's' : ''}; ${s.toFixed(0)} s, about ${(s / done * (todo.length - done)).toFixed(0)} s left)`);
  })));
  if (skipped) log(`clang: time budget spent; ${skipped} headers left unmeasured (rerun to resume)`);
  return answers;
}

/** The generator's answer for one header on each of its ABIs: a layout or a located error. */
export function generatorLayouts(item: SweepItem, root: string): Map<string, { ok: LayoutJson } | { error: string }> {
  const out = new Map<string, { ok: LayoutJson } | { error: string }>();
  let irs: Map<string, HeaderIR> | undefined;
  try {
    irs = parseHeaderForAbis(item.file, item.abis, { includeDirs: [root] });
  } catch {
    irs = undefined; // find out per ABI below, so an error on one ABI does not hide the others' results
  }
  for (const abi of item.abis) {
    try {
      const ir = irs?.get(abi.name) ?? parseHeader(item.file, { includeDirs: [root], abi });
      out.set(abi.name, { ok: layoutJson(ir, abi, item.name) });
    } catch (err) {
      out.set(abi.name, { error: (err as Error).message.split('\n')[0]!.replaceAll(`${root}/`, '').replaceAll(root, '<tree>') });
    }
  }
  return out;
}

/**
 * Why the generator rejects a header, by its error: each known limitation, in words. A rejection that
 * matches none is listed as `unexplained` (and is a bug to look at).
 */
const LIMITATIONS: readonly { test: RegExp; cause: string }[] = [
  { test: /cannot find <(netinet|net|arpa|atm|sys\/ioccom)\//, cause: 'a libc header outside the built-in libc model (README: the libc model)' },
  { test: /cannot find <asm\//, cause: 'the header includes an `asm/` file this ABI does not have (clang cannot compile it either)' },
  { test: /cannot find </, cause: 'an include the tree does not have' },
  { test: /expected 'field_identifier'/, cause: 'an unnamed bit-field (`__u64 : 4;`), not parsed yet (issue 13 adds them)' },
  { test: /unknown type name '(u_short|u_int|u_char|u_long|stack_t|sigset_t|domid_t|grant_ref_t|size_t)'|unknown type 'size_t'|is incomplete|unknown struct sockaddr/, cause: 'uses a type the header never includes a definition of (a libc or sibling type it expects its user to define first)' },
  { test: /#error/, cause: "the header's own #error (not for direct inclusion)" },
  { test: /syntax error/, cause: 'a construct tree-sitter-c does not parse (an extra `;` in a struct, an attribute between a type and its declarator, an initialised array)' },
  { test: /macro \S+ takes/, cause: 'a preprocessor difference (macro arguments)' },
  { test: /contains itself/, cause: 'an unknown type taken for the record itself (the header uses `size_t` without including it)' },
  { test: /is not supported on/, cause: 'a type this ABI does not have (`__int128` on a 32-bit ABI)' },
];

function limitationOf(error: string): string {
  return LIMITATIONS.find((l) => l.test.test(error))?.cause ?? 'unexplained';
}

/** A layout without its bit-field entries (fields whose place is a bit position, not a byte offset). */
function withoutBitFields(l: LayoutJson): LayoutJson {
  const records: LayoutJson['records'] = {};
  for (const [k, r] of Object.entries(l.records)) {
    records[k] = { ...r, fields: Object.fromEntries(Object.entries(r.fields).filter(([, v]) => typeof v === 'number')) };
  }
  return { ...l, records };
}

interface Tally { headers: Set<string>; pairs: number; records: number; fields: number; constants: number; checks: number; disagreements: number }
const tally = (): Tally => ({ headers: new Set(), pairs: 0, records: 0, fields: 0, constants: 0, checks: 0, disagreements: 0 });

/** Options of {@link sweep}. */
export interface SweepOptions {
  jobs?: number;
  only?: RegExp;
  fresh?: boolean;
  /** Stop starting clang work after this many seconds and report on what is measured (resume later). */
  budgetSeconds?: number;
  log?: (m: string) => void;
}

/** Runs the sweep; returns the Markdown report. */
export async function sweep(opts: SweepOptions = {}): Promise<{ markdown: string; agreement: number }> {
  const log = opts.log ?? (() => {});
  const root = await ensureUapiTree({ log });
  const version = (await cachedUapiTreeVersion()) ?? 'unknown';
  const clang = findClang(ABIS[ABIS.length - 1]!);
  for (const abi of ABIS) findClang(abi);
  const dir = oracleCacheDir(defaultCacheDir(), version, clang.major);
  if (opts.fresh) await rm(dir, { recursive: true, force: true });
  const items = sweepItems(root, ABIS, opts.only);
  log(`sweep: ${items.length} headers of linux-libc-dev ${version}, ${items.reduce((n, i) => n + i.abis.length, 0)} header x ABI pairs`);
  const answers = await runOracle(items, root, dir, opts.jobs ?? availableParallelism(), (opts.budgetSeconds ?? Infinity) * 1000, log);
  const unmeasured = items.filter((i) => i.abis.some((a) => !answers.has(`${i.name} ${a.name}`)));
  const measured = items.filter((i) => !unmeasured.includes(i));

  const byDir = new Map<string, Tally>();
  const byAbi = new Map<string, Tally>(ABIS.map((a) => [a.name, tally()]));
  const total = tally();
  const disagreements: Disagreement[] = [];
  const rejections: { name: string; abis: string[]; error: string; clang: string }[] = [];
  const clangRejects: { name: string; abis: string[]; error: string; ours: string }[] = [];
  let oldFormatPairs = 0;
  const genStarted = performance.now();
  for (const [n, item] of measured.entries()) {
    if (n % 50 === 0) log(`generator [${n}/${measured.length}] ${item.name}`);
    const ours = generatorLayouts(item, root);
    const d = byDir.get(item.dir) ?? tally();
    byDir.set(item.dir, d);
    for (const abi of item.abis) {
      const theirs = answers.get(`${item.name} ${abi.name}`)!;
      const mine = ours.get(abi.name)!;
      if ('error' in theirs) {
        const ourSide = 'error' in mine ? `rejects too: ${mine.error}` : 'accepts';
        const prev = clangRejects.find((r) => r.name === item.name && r.error === theirs.error && r.ours === ourSide);
        if (prev) prev.abis.push(abi.name); else clangRejects.push({ name: item.name, abis: [abi.name], error: theirs.error, ours: ourSide });
        continue;
      }
      if ('error' in mine) {
        const prev = rejections.find((r) => r.name === item.name && r.error === mine.error);
        if (prev) prev.abis.push(abi.name); else rejections.push({ name: item.name, abis: [abi.name], error: mine.error, clang: 'accepts' });
        continue;
      }
      const expected = theirs.ok;
      // clang answers cached before the oracle measured bit-field positions list bit-fields by name only:
      // compare what they hold (ours' bit-field entries left out), and say so in the report.
      const oldFormat = Object.values(expected.records).some((r) => Array.isArray((r as { bitfields?: unknown }).bitfields));
      if (oldFormat) oldFormatPairs++;
      const diff = compareLayouts(expected, oldFormat ? withoutBitFields(mine.ok) : mine.ok);
      disagreements.push(...diff);
      const records = Object.keys(expected.records).length;
      const fields = Object.values(expected.records).reduce((k, r) => k + Object.keys(r.fields).length, 0);
      const constants = Object.keys(expected.constants).length;
      const checks = constants + 2 * records + fields;
      for (const t of [d, byAbi.get(abi.name)!, total]) {
        t.headers.add(item.name); t.pairs++; t.records += records; t.fields += fields; t.constants += constants; t.checks += checks; t.disagreements += diff.length;
      }
    }
  }
  const genSeconds = (performance.now() - genStarted) / 1000;
  const agreement = total.checks ? 1 - total.disagreements / total.checks : 0;
  const pct = (t: Tally) => (t.checks ? `${(100 * (1 - t.disagreements / t.checks)).toFixed(3)}%` : 'n/a');
  const row = (name: string, t: Tally) => `| ${name} | ${t.headers.size} | ${t.pairs} | ${t.records} | ${t.fields} | ${t.constants} | ${t.checks} | ${t.disagreements} | ${pct(t)} |`;
  const head = '| | headers | pairs compared | records | fields | constants | checks | disagreements | agreement |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|';
  const pairs = items.reduce((k, i) => k + i.abis.length, 0);
  const lines = [
    '# UAPI sweep: the generator against clang on every header of linux-libc-dev',
    '',
    `Written by \`npm run sweep\` (scripts/sweep.ts)${opts.only ? `, restricted to headers matching \`${opts.only.source}\`` : ''}. Do not edit.`,
    '',
    `- Tree: Debian's \`linux-libc-dev\` ${version}: ${items.length} headers (${items.filter((i) => i.dir !== 'asm').length} in ${UAPI_DIRS.join('/, ')}/ on every ABI, ${items.filter((i) => i.dir === 'asm').length} of the ABIs' own \`asm/\`), ${pairs} header x ABI pairs.`,
    `- ABIs (${ABIS.length}): ${ABIS.map((a) => a.name).join(', ')}.`,
    `- Generator: \`layout --json --include <tree>\` (libc headers from the built-in glibc model). Oracle: ${path.basename(clang.path)} \`--target=<triple> -nostdinc\` with the same tree, then clang's own headers and the ABI's glibc 2.36 (\`/usr/<triplet>/include\` from \`libc6-dev-<arch>-cross\`; ${ABIS.filter((a) => !a.glibcCross).map((a) => a.name).join(', ') || 'none'} without: Debian 12 has no such package).`,
    `- A check is one constant value, one record size, one record alignment or one field offset that clang reports.`,
    ...(unmeasured.length ? [`- **Partial run**: clang has measured ${measured.length} of the ${items.length} headers so far (the time budget ran out; \`npm run sweep\` resumes from the cache). The ${unmeasured.length} others are not in the figures below: ${[...new Set(unmeasured.map((i) => i.dir))].map((d) => `${unmeasured.filter((i) => i.dir === d).length} in ${d}/`).join(', ')}.`] : []),
    `- Agreement: **${(100 * agreement).toFixed(3)}%** of ${total.checks} checks (${total.disagreements} disagreements) over ${total.pairs} pairs that both sides lay out; ${rejections.reduce((k, r) => k + r.abis.length, 0)} pairs rejected by the generator where clang accepts them; ${clangRejects.reduce((k, r) => k + r.abis.length, 0)} pairs that clang itself rejects.`,
    ...(oldFormatPairs ? [`- ${oldFormatPairs} pairs were compared with clang answers cached before the oracle measured bit-field positions: their bit-fields are not in the checks (\`--fresh\` measures them again).`] : []),
    `- Generator side of this run: ${genSeconds.toFixed(1)} s in one process.`,
    '',
    '## Per directory',
    '',
    head,
    ...[...byDir.entries()].map(([k, t]) => row(`${k}/`, t)),
    row('**all**', total),
    '',
    '## Per ABI',
    '',
    head,
    ...ABIS.map((a) => row(a.name, byAbi.get(a.name)!)),
    '',
    `## Disagreements (${disagreements.length})`,
    '',
    'Known causes: (1) The oracle finds a header\'s names once, on x86_64, and measures them on every ABI: a macro the',
    'header defines only on some ABIs shows as \"missing in ours\" or \"not an integer constant for clang\" although the',
    'generator follows C on that ABI (`linux/auxvec.h`\'s `AT_MINSIGSTKSZ` comes from `asm/auxvec.h` on aarch64;',
    '`linux/a.out.h`\'s `SEGMENT_SIZE` is `1024` on i386 only). (2) clang answers cached before the oracle stopped giving a',
    'tree header\'s own folder as `linux/` (fixed during the issue-14 run): in `linux/iio/`, `linux/usb/`, ... a sibling',
    'named like a `linux/` header (`types.h`) stood in for it, so clang saw nothing of the header itself',
    '(`linux/iio/types.h`: \"not an integer constant of the header for clang\"); `--fresh` measures them again.',
    '',
    ...(disagreements.length ? disagreements.map((x) => `- \`${x.header}\`: ${x.message}`) : ['None.']),
    '',
    `## Headers the generator rejects where clang accepts them (${rejections.length})`,
    '',
    'By cause (header x ABI pairs):',
    '',
    ...[...new Set(rejections.map((r) => limitationOf(r.error)))].map((c) => `- ${c}: ${rejections.filter((r) => limitationOf(r.error) === c).reduce((k, r) => k + r.abis.length, 0)}`),
    '',
    'Each with the generator\'s located error (path relative to the tree) and the ABIs.',
    '',
    ...(rejections.length ? rejections.map((r) => `- \`${r.name}\` (${r.abis.length === ABIS.length ? 'all ABIs' : r.abis.join(', ')}): ${r.error}. *Cause:* ${limitationOf(r.error)}.`) : ['None.']),
    '',
    `## Headers clang rejects (${clangRejects.length})`,
    '',
    'Headers that do not compile on their own for an ABI (kernel-internal includes, ABI-specific `#error`s, libc headers with no glibc for the ABI); what the generator does with them is given for each.',
    '',
    ...(clangRejects.length ? clangRejects.map((r) => `- \`${r.name}\` (${r.abis.length === ABIS.length ? 'all ABIs' : r.abis.join(', ')}): clang: ${r.error.split('\n').filter((l) => /error/.test(l)).slice(0, 1).join(' ').replace(/^.*?: (fatal )?error: /, '') || r.error.split('\n')[0]}; generator ${r.ours}${r.ours !== 'accepts' ? '' : r.abis.every((a) => !abiByName(a).glibcCross) && /file not found/.test(r.error) ? ' (not checked: Debian 12 has no glibc cross headers for this ABI)' : ' (the generator does not check everything C rejects in a header used alone)'}`) : ['None.']),
    '',
  ];
  return { markdown: lines.join('\n'), agreement };
}

if (isMainModule(import.meta.url)) {
  const args = process.argv.slice(2);
  const val = (flag: string) => { const i = args.indexOf(flag); return i >= 0 ? args[i + 1] : undefined; };
  const only = val('--only') ? new RegExp(val('--only')!) : undefined;
  const out = val('--out') ?? (only ? undefined : 'docs/uapi-sweep.md');
  sweep({ jobs: val('--jobs') ? Number(val('--jobs')) : undefined, budgetSeconds: val('--budget') ? Number(val('--budget')) : undefined, only, fresh: args.includes('--fresh'), log: (m) => process.stderr.write(`${m}\n`) }).then(
    async ({ markdown, agreement }) => {
      if (out) { await writeAtomic(out, markdown); process.stderr.write(`wrote ${out}: agreement ${(100 * agreement).toFixed(3)}%\n`); }
      else process.stdout.write(markdown);
    },
    (err: Error) => { process.stderr.write(`sweep: ${err.stack ?? err.message}\n`); process.exit(1); },
  );
}
