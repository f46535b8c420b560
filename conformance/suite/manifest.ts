/**
 * Host side: the manifest of a kernel's own `vfio.h` (its ioctls with their
 * request numbers and arguments, its constants, its record layouts), computed
 * by our generator, for the guest suite to check the running kernel against.
 * Also: choosing the corpus header of a kernel, and corrupting a manifest on
 * purpose (to show that the suite catches broken bindings).
 */
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { abiByName } from '../../generator/abi/abis.js';
import { ioctlSpecs } from '../../generator/analysis/conventions.js';
import { capabilitySpecs } from '../../generator/analysis/conventions.js';
import type { HeaderIR } from '../../generator/ir/types.js';
import { jsonNumber } from '../../generator/layout/json.js';
import { AbiLayout, type RecordLayout } from '../../generator/layout/layout.js';
import { parseHeaderForAbis } from '../../generator/parse/parse.js';
import { ARCHES, HOST_ARCH, type ArchName } from '../vm/arches.js';
import type { GuestPlatform, Manifest, ManifestField, ManifestRecord } from './types.js';
import { corpusDir } from '../../generator/paths.js';
import { formatLoc } from '../../generator/errors.js';

/** The guest platform of an architecture of the VM harness's table. */
export function platformOf(arch: ArchName): GuestPlatform {
  return { arch, ...ARCHES[arch].platform, extensions: { ...ARCHES[arch].platform.extensions } };
}

/**
 * Builds the manifest of the `vfio.h` at `headerPath` for an architecture of
 * the harness (default x86_64): its ABI's numbers and layouts, its platform;
 * `includeDirs` for headers that include others.
 */
export function buildManifest(headerPath: string, arch: ArchName = HOST_ARCH, includeDirs?: string[]): Manifest {
  const abi = ARCHES[arch].abi;
  const platform = platformOf(arch);
  // Per ABI: a header that includes a real kernel tree's <linux/types.h> tests ABI macros.
  const ir = parseHeaderForAbis(headerPath, [abiByName(abi)], includeDirs ? { includeDirs } : {}).get(abi)!;
  const layout = new AbiLayout(ir, abiByName(abi));
  const { values: evaluated, skipped } = layout.constants();
  const values = new Map(evaluated.map((c) => [c.name, c.value]));
  const notConstants = macrosWithoutValue(headerPath, ir, values, skipped);

  const constants: Record<string, number | string> = {};
  for (const [name, value] of values) constants[name] = jsonNumber(value);

  const records: Record<string, ManifestRecord> = {};
  for (const decl of ir.records) {
    if (!decl.name || !decl.fields || decl.loc.file !== ir.file) continue;
    const rec = layout.recordLayout(decl.id);
    records[decl.name] = { tag: decl.tag, size: rec.size, align: rec.align, fields: recordFields(layout, rec) };
  }

  const ioctls = ioctlSpecs(ir).map((spec) => {
    const number = values.get(spec.name);
    if (number === undefined) throw new Error(`${headerPath}: ioctl ${spec.name} has no value on ${abi}`);
    return { name: spec.name, number: Number(number), fd: spec.fd, arg: spec.arg, line: spec.line };
  });

  const capabilities = capabilitySpecs(ir, layout).map((c) => {
    const value = values.get(c.id);
    if (value === undefined) throw new Error(`${headerPath}: capability id ${c.id} (of ${c.info}) has no integer value on ${abi}`);
    return { info: c.info, id: c.id, value: Number(value), record: c.record };
  });

  return {
    header: { path: headerPath, version: path.basename(path.dirname(headerPath)), sha256: ir.sha256 },
    abi,
    platform,
    ioctls,
    constants,
    records,
    capabilities,
    features: featureIds(ir, values),
    extensions: extensionNames(ir, values),
    notConstants,
    injected: [],
  };
}

/**
 * Every macro of the header that is not an integer constant, with the reason: function-like, empty (a guard),
 * a string, or not an expression. A macro that is an expression our evaluator could not evaluate is an error
 * (thrown, each with its location and reason): the suite would otherwise check the kernel without it, silently.
 */
function macrosWithoutValue(headerPath: string, ir: HeaderIR, values: Map<string, bigint>, skipped: readonly { name: string; reason: string }[]): { name: string; reason: string }[] {
  const why = new Map(skipped.map((s) => [s.name, s.reason]));
  const out: { name: string; reason: string }[] = [];
  const failed: string[] = [];
  for (const m of ir.macros) {
    if (values.has(m.name)) continue;
    if (m.params) out.push({ name: m.name, reason: 'function-like' });
    else if (!m.value) out.push({ name: m.name, reason: 'no value' });
    else if (m.value.kind === 'empty') out.push({ name: m.name, reason: 'empty' });
    else if (m.value.kind === 'string') out.push({ name: m.name, reason: 'a string' });
    else if (m.value.kind === 'other') out.push({ name: m.name, reason: `not an expression: ${m.value.reason}` });
    else {
      // The evaluator's message usually starts with this very location: said once.
      const at = formatLoc(m.loc);
      const reason = (why.get(m.name) ?? 'not evaluated').replace(`${at}: error: `, '');
      failed.push(`${at}: error: ${m.name}: ${reason}`);
    }
  }
  if (failed.length > 0) throw new Error(`${headerPath}: cannot evaluate ${failed.length} integer macro(s) for the manifest:\n${failed.join('\n')}`);
  return out;
}

/**
 * Adds the ioctls, constants and records of another header of the same kernel
 * (`iommufd.h` beside `vfio.h`) to `manifest`; the header is listed in `headers`.
 * @throws Error when a name is defined by both with different values.
 */
export function addHeader(manifest: Manifest, extra: Manifest, opts: { ioctls?: boolean } = {}): Manifest {
  const out = structuredClone(manifest);
  for (const [name, value] of Object.entries(extra.constants)) {
    if (name in out.constants && out.constants[name] !== value) throw new Error(`${extra.header.path}: ${name} = ${value}, but ${manifest.header.path} says ${out.constants[name]}`);
    out.constants[name] = value;
  }
  for (const [name, rec] of Object.entries(extra.records)) out.records[name] ??= rec;
  const known = new Set(out.ioctls.map((i) => i.name));
  if (opts.ioctls !== false) out.ioctls.push(...extra.ioctls.filter((i) => !known.has(i.name)).map((i) => ({ ...i, header: path.basename(extra.header.path) })));
  out.capabilities.push(...extra.capabilities);
  out.notConstants.push(...extra.notConstants);
  out.headers = [...(out.headers ?? []), extra.header];
  return out;
}

/** Members by access path with offset, size, spelling and array count (like the generated field tables). */
function recordFields(layout: AbiLayout, rec: RecordLayout): Record<string, ManifestField> {
  const out: Record<string, ManifestField> = {};
  const walk = (r: RecordLayout, base: number, prefix: string) => {
    for (const m of r.members) {
      if (m.bitWidth !== undefined) continue;
      const offset = base + m.offset;
      if (m.field.name === undefined) {
        if (m.resolved.kind === 'record') walk(layout.recordLayout(m.resolved.id), offset, prefix);
        continue;
      }
      const field: ManifestField = { offset, size: m.size, type: m.field.spelling };
      if (m.resolved.kind === 'array') {
        const el = layout.typeLayout(m.resolved.of, m.field.loc);
        field.count = m.resolved.length === null || el.size === 0 ? 0 : m.size / el.size;
      }
      out[prefix + m.field.name] = field;
      if (m.resolved.kind === 'record') walk(layout.recordLayout(m.resolved.id), offset, `${prefix}${m.field.name}.`);
    }
  };
  walk(rec, 0, '');
  return out;
}

/**
 * The `VFIO_DEVICE_FEATURE_*` feature ids: such macros defined outside any
 * struct (the GET/SET/PROBE/MASK bits live inside `struct vfio_device_feature`,
 * a feature's own values inside its data struct).
 */
function featureIds(ir: HeaderIR, values: Map<string, bigint>): string[] {
  const spans = ir.records
    .filter((r) => r.loc.file === ir.file && r.endLine !== undefined)
    .map((r) => [r.loc.line, r.endLine!] as const);
  return ir.macros
    .filter((m) => /^VFIO_DEVICE_FEATURE_\w+$/.test(m.name) && values.has(m.name))
    .filter((m) => !spans.some(([from, to]) => m.loc.line > from && m.loc.line < to))
    .map((m) => m.name);
}

/** The extension ids of `VFIO_CHECK_EXTENSION`: the integer macros between `VFIO_API_VERSION` and `VFIO_TYPE`. */
function extensionNames(ir: HeaderIR, values: Map<string, bigint>): string[] {
  const from = ir.macros.find((m) => m.name === 'VFIO_API_VERSION')?.loc.line ?? 0;
  const to = ir.macros.find((m) => m.name === 'VFIO_TYPE')?.loc.line ?? 0;
  return ir.macros.filter((m) => m.loc.line > from && m.loc.line < to && values.has(m.name)).map((m) => m.name);
}

export { corpusDir };

/**
 * The corpus `vfio.h` for a kernel version (`6.1.176`, or a `uname -r` such as
 * `6.1.0-50-amd64`): the same major.minor, the nearest patch level.
 * @throws Error naming the versions the corpus has when none matches.
 */
export function headerForKernel(corpus: string, kernelVersion: string): { path: string; version: string } {
  const m = /^(\d+)\.(\d+)(?:\.(\d+))?/.exec(kernelVersion);
  if (!m) throw new Error(`cannot read a kernel version from ${JSON.stringify(kernelVersion)}`);
  const [major, minor, patch] = [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)];
  const versions = existsSync(corpus) ? readdirSync(corpus).filter((v) => existsSync(path.join(corpus, v, 'vfio.h'))) : [];
  const candidates = versions
    .map((v) => ({ v, p: /^(\d+)\.(\d+)\.(\d+)/.exec(v) }))
    .filter((x) => x.p && Number(x.p[1]) === major && Number(x.p[2]) === minor)
    .sort((a, b) => Math.abs(Number(a.p![3]) - patch) - Math.abs(Number(b.p![3]) - patch));
  const best = candidates[0];
  if (!best) {
    throw new Error(`no vfio.h for Linux ${major}.${minor} in the header corpus ${corpus} (it has: ${versions.sort().join(', ') || 'nothing'}); set VFIO_UAPI_CORPUS`);
  }
  return { path: path.join(corpus, best.v, 'vfio.h'), version: best.v };
}

/** A deliberate corruption of a manifest, to check that the suite reports `fail` for it. */
export type ManifestCorruption =
  | { kind: 'ioctl-number'; ioctl: string; number: number }
  | { kind: 'record-size'; record: string; delta: number }
  | { kind: 'record-byte-order'; record: string };

/** A copy of `manifest` with `corruptions` applied, each listed in `injected`. */
export function corruptManifest(manifest: Manifest, corruptions: readonly ManifestCorruption[]): Manifest {
  const copy = structuredClone(manifest);
  for (const c of corruptions) {
    if (c.kind === 'ioctl-number') {
      const ioctl = copy.ioctls.find((i) => i.name === c.ioctl);
      if (!ioctl) throw new Error(`corruptManifest: no ioctl ${c.ioctl}`);
      copy.injected.push(`${c.ioctl}: request 0x${ioctl.number.toString(16)} replaced by 0x${c.number.toString(16)}`);
      ioctl.number = c.number;
      copy.constants[c.ioctl] = c.number;
    } else {
      const rec = copy.records[c.record];
      if (!rec) throw new Error(`corruptManifest: no record ${c.record}`);
      if (c.kind === 'record-size') {
        copy.injected.push(`struct ${c.record}: size ${rec.size} replaced by ${rec.size + c.delta}`);
        rec.size += c.delta;
      } else {
        copy.injected.push(`struct ${c.record}: fields in the opposite byte order to ${copy.abi}'s`);
        rec.swapped = true;
      }
    }
  }
  return copy;
}
