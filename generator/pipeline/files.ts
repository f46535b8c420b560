/** Writing a generated file set: atomically, or comparing it with what is on disk (`--check`). */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { replaceDirectory } from '../codegen/swap.js';
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
 * Writes `files` to `dir`, replacing its contents atomically: at every instant `dir` holds the complete old
 * or the complete new set (see swap.ts), and leftovers of killed runs are removed.
 */
export function writeFileSet(dir: string, files: FileSet): void {
  replaceDirectory(dir, files);
}
