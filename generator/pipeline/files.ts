/** Writing a generated file set: atomically, or comparing it with what is on disk (`--check`). */
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import type { FileSet } from '../codegen/emit.js';

export type { FileSet };

/** Paths that differ between `files` and what is in `dir` (missing, changed, or extra). */
export function diffFileSet(dir: string, files: FileSet): string[] {
  const differ: string[] = [];
  for (const [rel, text] of files) {
    const p = join(dir, rel);
    if (!existsSync(p) || readFileSync(p, 'utf8') !== text) differ.push(rel);
  }
  if (existsSync(dir)) {
    const walk = (d: string): string[] => readdirSync(d).flatMap((f) => (statSync(join(d, f)).isDirectory() ? walk(join(d, f)) : [relative(dir, join(d, f)).split(sep).join('/')]));
    for (const rel of walk(dir)) if (!files.has(rel)) differ.push(`${rel} (not generated any more)`);
  }
  return differ.sort();
}

/**
 * Replaces `dir` with exactly `files`, atomically: everything is written to a
 * sibling temp dir first, then swapped in with renames. On error nothing changes.
 */
export function writeFileSet(dir: string, files: FileSet): void {
  const target = resolve(dir);
  mkdirSync(dirname(target), { recursive: true });
  const staging = `${target}.tmp-${process.pid}`;
  const old = `${target}.old-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  try {
    for (const [rel, text] of files) {
      mkdirSync(dirname(join(staging, rel)), { recursive: true });
      writeFileSync(join(staging, rel), text);
    }
    if (existsSync(target)) renameSync(target, old);
    renameSync(staging, target);
    rmSync(old, { recursive: true, force: true });
  } catch (e) {
    rmSync(staging, { recursive: true, force: true });
    if (existsSync(old) && !existsSync(target)) renameSync(old, target);
    throw e;
  }
}
