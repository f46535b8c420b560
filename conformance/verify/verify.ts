/**
 * `vfio-uapi verify`: checks the TypeScript bindings we emit against clang,
 * like rust-lang/libc's ctest. For each bindings directory and ABI, the ABI
 * module is imported and everything it claims (constants, ioctl numbers,
 * record sizes and alignments, field offsets, sizes, counts and signedness,
 * flexible arrays, bit-fields) becomes one C translation unit that includes the
 * header where it lies; clang's values are read from the object file, so every
 * mismatch is reported with both numbers, and no foreign code runs. Each codec
 * then decodes a C-initialised object and must encode it back to C's bytes.
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { ABIS, type Abi } from '../../generator/abi/abis.js';
import { findClang, installedClangs, MissingPrerequisite, requiredClangMajor } from '../clang/toolchain.js';
import { ensureUapiTree } from '../clang/uapi-tree.js';
import { compileUnit, siblingIncludeDir, type HeaderUnit } from './ctu.js';
import { abiChecks, overridesOf, readClaims, type Mismatch, type MismatchKind } from './checks.js';
import { findHeader, defaultBindingsDirs, expandBindingsDir, loadBindings, sha256File, VerifyInputError, type LoadedBindings } from './load.js';
import { createLimiter } from '../clang/limiter.js';
import { removeTempDir } from '../cleanup.js';

/** Options of {@link verifyBindings}. */
export interface VerifyOptions {
  /** Bindings directories; default the package's generated/vfio, iommufd, vfio_zdev and vfio_ccw. */
  readonly bindings?: readonly string[];
  /** The header to compile (default: found from each directory's provenance line). Used for the bindings generated from a header of the same file name. */
  readonly header?: string;
  /** ABIs to check; default (`'all'`): every ABI the bindings have. */
  readonly abis?: readonly Abi[] | 'all';
  /** Include root of the UAPI tree; default {@link ensureUapiTree}. */
  readonly includeRoot?: string;
  /** clang processes at a time; default 2. */
  readonly concurrency?: number;
  /** Progress lines (one per ABI) and notes. */
  readonly log?: (line: string) => void;
}

/** One bindings directory that was checked. */
export interface BindingsReport {
  readonly dir: string;
  /** `in place`, `dist`, `copied` or `transpiled`. */
  readonly loaded: string;
  readonly header: string;
  readonly version: string;
  readonly sha256: string;
  /** The header file compiled. */
  readonly headerPath: string;
  readonly abis: readonly string[];
}

/** The results of one header on one ABI. */
export interface UnitReport {
  readonly header: string;
  readonly checks: number;
  readonly failed: number;
  /** Constants, ioctls and codecs the module claims. */
  readonly constants: number;
  readonly ioctls: number;
  readonly records: number;
  readonly compiles: number;
  readonly ms: number;
}

/** The results of one ABI. */
export interface AbiReport {
  readonly abi: string;
  readonly checks: number;
  readonly passed: number;
  readonly failed: number;
  readonly headers: readonly UnitReport[];
}

/** Everything {@link verifyBindings} found. */
export interface VerifyResult {
  readonly ok: boolean;
  readonly bindings: readonly BindingsReport[];
  readonly abis: readonly AbiReport[];
  readonly checks: number;
  readonly passed: number;
  readonly failed: number;
  /** Mismatches by kind. */
  readonly byKind: Partial<Record<MismatchKind, number>>;
  /** Every mismatch, in ABI order, then header order. */
  readonly mismatches: readonly Mismatch[];
  readonly elapsedMs: number;
}

/**
 * Verifies bindings against clang on every requested ABI and reports every
 * mismatch (never only the first).
 * @throws MissingPrerequisite without a suitable clang or the UAPI include tree; VerifyInputError for unusable bindings or headers.
 */
export async function verifyBindings(opts: VerifyOptions = {}): Promise<VerifyResult> {
  const started = performance.now();
  const log = opts.log ?? (() => {});
  const dirs = opts.bindings?.length ? opts.bindings.flatMap((d) => expandBindingsDir(d)) : defaultBindingsDirs();
  if (dirs.length === 0) throw new VerifyInputError('no bindings to verify (give --bindings DIR)');
  const requested = opts.abis === undefined || opts.abis === 'all' ? undefined : opts.abis;
  requireClang(requested ?? ABIS); // before any work

  const loaded: LoadedBindings[] = [];
  const siblingDirs: string[] = [];
  try {
    for (const d of dirs) loaded.push(await loadBindings(d));
    const reports: BindingsReport[] = [];
    const units: { b: LoadedBindings; unit: HeaderUnit; abis: Abi[] }[] = [];
    let includeRoot = opts.includeRoot;
    if (!includeRoot) {
      try {
        includeRoot = await ensureUapiTree({ log });
      } catch (err) {
        throw new MissingPrerequisite(`no Linux UAPI include tree with every architecture's asm/ headers (Debian's linux-libc-dev >= 6.12, downloaded into ~/.cache/vfio-uapi or $VFIO_UAPI_CACHE): ${(err as Error).message.split('\n')[0]}`, ['apt', 'dpkg', 'debian-archive-keyring', 'ca-certificates']);
      }
    }
    for (const b of loaded) {
      const headerPath = resolveHeader(b, opts.header, loaded.length, log);
      const abis = requested
        ? requested.map((a) => {
          if (!b.abis.includes(a.name)) throw new VerifyInputError(`${b.dir}: no bindings for ABI ${a.name} (it has ${b.abis.join(', ')})`);
          return a;
        })
        : ABIS.filter((a) => b.abis.includes(a.name));
      const unknown = b.abis.filter((n) => !ABIS.some((a) => a.name === n));
      if (unknown.length) log(`verify: ${b.dir}: ABI module(s) ${unknown.join(', ')} are not in the ABI table; not checked`);
      requireClang(abis);
      const siblingDir = await siblingIncludeDir(headerPath);
      siblingDirs.push(siblingDir);
      units.push({ b, unit: { header: headerPath, includeRoot, siblingDir }, abis });
      reports.push({ dir: b.dir, loaded: b.how, header: b.provenance.header, version: b.provenance.version, sha256: b.provenance.sha256, headerPath, abis: abis.map((a) => a.name) });
    }

    const limit = createLimiter(Math.max(1, opts.concurrency ?? 2));
    // Which designators are later members of a union (ABI-independent): one objects-only compile per header.
    const overrides = await Promise.all(units.map((u) => u.abis.length === 0 ? new Map<string, Map<string, string>>() : limit(async () => {
      const claims = readClaims(await u.b.module(u.abis[0].name), u.b.ioctls);
      const checks = abiChecks(u.b.provenance.header, u.abis[0], claims);
      const res = await compileUnit(u.unit, u.abis[0], [], checks.plans.map((p) => p.object));
      const bySymbol = overridesOf(res);
      return new Map(checks.plans.filter((p) => bySymbol.has(p.object.symbol)).map((p) => [p.cName, bySymbol.get(p.object.symbol)!]));
    })));

    const abiOrder = ABIS.filter((a) => units.some((u) => u.abis.includes(a)));
    const perAbi = new Map<string, { report: UnitReport; mismatches: Mismatch[] }[]>();
    let done = 0;
    await Promise.all(abiOrder.map(async (abi) => {
      const jobs = units.map((u, i) => ({ u, i })).filter(({ u }) => u.abis.includes(abi));
      const results = await Promise.all(jobs.map(({ u, i }) => limit(async () => {
        const t0 = performance.now();
        const claims = readClaims(await u.b.module(abi.name), u.b.ioctls);
        const checks = abiChecks(u.b.provenance.header, abi, claims);
        const pre = new Map<string, Map<string, string>>();
        for (const p of checks.plans) {
          const o = overrides[i].get(p.cName);
          if (o) pre.set(p.object.symbol, o);
        }
        const res = await compileUnit(u.unit, abi, checks.probes, checks.objects, pre);
        const { checks: n, mismatches } = checks.evaluate(res);
        const report: UnitReport = {
          header: u.b.provenance.header,
          checks: n,
          failed: mismatches.length,
          constants: claims.constants.size - claims.ioctls.size,
          ioctls: claims.ioctls.size,
          records: claims.codecs.size,
          compiles: res.compiles,
          ms: Math.round(performance.now() - t0),
        };
        return { report, mismatches };
      })));
      perAbi.set(abi.name, results);
      done++;
      const checks = results.reduce((s, r) => s + r.report.checks, 0);
      const failed = results.reduce((s, r) => s + r.report.failed, 0);
      log(`verify: [${done}/${abiOrder.length}] ${abi.name}: ${checks} checks, ${failed} failed (${results.map((r) => `${r.report.header} ${r.report.checks}`).join(', ')})`);
    }));

    const abis: AbiReport[] = abiOrder.map((abi) => {
      const rs = perAbi.get(abi.name)!;
      const checks = rs.reduce((s, r) => s + r.report.checks, 0);
      const failed = rs.reduce((s, r) => s + r.report.failed, 0);
      return { abi: abi.name, checks, passed: checks - failed, failed, headers: rs.map((r) => r.report) };
    });
    const mismatches = abiOrder.flatMap((abi) => perAbi.get(abi.name)!.flatMap((r) => r.mismatches));
    const byKind: Partial<Record<MismatchKind, number>> = {};
    for (const m of mismatches) byKind[m.kind] = (byKind[m.kind] ?? 0) + 1;
    const checks = abis.reduce((s, a) => s + a.checks, 0);
    return {
      ok: mismatches.length === 0,
      bindings: reports,
      abis,
      checks,
      passed: checks - mismatches.length,
      failed: mismatches.length,
      byKind,
      mismatches,
      elapsedMs: Math.round(performance.now() - started),
    };
  } finally {
    await Promise.all([...loaded.map((b) => b.dispose()), ...siblingDirs.map((d) => removeTempDir(d))]);
  }
}

/** Throws one MissingPrerequisite naming every package needed when some ABI has no suitable clang. */
function requireClang(abis: readonly Abi[]): void {
  const missing: { abi: Abi; err: MissingPrerequisite }[] = [];
  for (const abi of abis) {
    try {
      findClang(abi);
    } catch (err) {
      if (!(err instanceof MissingPrerequisite)) throw err;
      missing.push({ abi, err });
    }
  }
  if (missing.length === 0) return;
  const packages = [...new Set(missing.flatMap((m) => m.err.packages))].sort();
  const found = installedClangs().map((c) => `clang-${c.major}`).join(', ') || 'none';
  throw new MissingPrerequisite(`verify needs clang for ${missing.map((m) => `${m.abi.name} (>= ${requiredClangMajor(m.abi)})`).join(', ')}; found on PATH: ${found}`, packages);
}

/** The header to compile for `b`: the given one (if its file name matches, or there is one bindings directory), else the corpus's. */
function resolveHeader(b: LoadedBindings, given: string | undefined, nBindings: number, log: (line: string) => void): string {
  if (given && (path.basename(given) === b.provenance.header || nBindings === 1)) {
    const file = path.resolve(given);
    let sum: string;
    try {
      sum = sha256File(file);
    } catch (err) {
      throw new VerifyInputError(`cannot read --header ${given}: ${(err as Error).message}`, 2);
    }
    if (sum !== b.provenance.sha256) {
      log(`verify: note: ${given} (sha256 ${sum.slice(0, 16)}…) is not the header the bindings in ${b.dir} were generated from (${b.provenance.header} ${b.provenance.version}, sha256 ${b.provenance.sha256.slice(0, 16)}…); checking them against it anyway`);
    }
    return file;
  }
  return findHeader(b.provenance, b.dir);
}

