/** Test helpers: temporary headers, and the shared header corpus. */
import { mkdtempSync, writeFileSync, existsSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll } from 'vitest';
import { parseHeader, parseHeaderForAbis } from '../generator/parse/parse.js';
import { abiByName } from '../generator/abi/abis.js';
import { AbiLayout } from '../generator/layout/layout.js';
import { layoutJson } from '../generator/layout/json.js';
import { findQemu } from '../conformance/vm/index.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** Writes `files` (name -> text) to a new temp dir; returns the path of the first. */
export function writeHeaders(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'vfio-uapi-test-'));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return join(dir, Object.keys(files)[0]!);
}

/** Parses a one-file header given as text. */
export function parseText(text: string) {
  return parseHeader(writeHeaders({ 'test.h': text }));
}

/** The layout JSON of a header given as text, on `abi`. */
export function layoutOf(text: string, abi = 'x86_64') {
  const a = abiByName(abi);
  return layoutJson(parseHeaderForAbis(writeHeaders({ 'test.h': text }), [a]).get(abi)!, a);
}

/** The evaluated constants of a header given as text, as bigints. */
export function constantsOf(text: string, abi = 'x86_64'): Map<string, { value: bigint; type: string }> {
  const a = abiByName(abi);
  const layout = new AbiLayout(parseHeaderForAbis(writeHeaders({ 'test.h': text }), [a]).get(abi)!, a);
  return new Map(layout.constants().values.map((c) => [c.name, { value: c.value, type: c.type.name }]));
}

/** The shared header corpus (../shared/uapi), or undefined where it is absent. */
export const CORPUS = resolve(process.env.VFIO_UAPI_CORPUS ?? join(import.meta.dirname, '..', '..', 'shared', 'uapi'));
export const HAVE_CORPUS = existsSync(join(CORPUS, 'INDEX.md'));

/** Every header of the corpus: { version, name, path }. */
export function corpusHeaders(): { version: string; name: string; path: string }[] {
  if (!HAVE_CORPUS) return [];
  return readdirSync(CORPUS, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .flatMap((d) => readdirSync(join(CORPUS, d.name)).filter((f) => f.endsWith('.h')).map((f) => ({ version: d.name, name: f, path: join(CORPUS, d.name, f) })))
    .sort((a, b) => a.path.localeCompare(b.path, 'en', { numeric: true }));
}

/** Why the tests that boot a VM cannot run here (VFIO_UAPI_SKIP_VM=1, or no QEMU), or undefined. */
export function vmSkipReason(): string | undefined {
  if (process.env.VFIO_UAPI_SKIP_VM === '1') return 'VFIO_UAPI_SKIP_VM=1';
  if (!findQemu()) return 'qemu-system-x86_64 not found (apt-get install qemu-system-x86 busybox-static)';
  return undefined;
}

/** The error `fn` throws; throws itself if `fn` returns. */
export function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected an error');
}
