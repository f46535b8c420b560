/**
 * Finding a header by content: its sha256, and the first of a list of
 * candidate paths that has the sha256 a provenance line records. The one place
 * for both (verify and update look headers up this way).
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';

/** sha256 of a file, hex. */
export function sha256File(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/**
 * Candidate paths of `header` in corpus-like directories (`<root>/<version>/<header>`):
 * first under each of `versions`, then under every subdirectory (any version), in name order.
 */
export function headerCandidates(header: string, roots: readonly string[], versions: readonly string[]): string[] {
  const subdirs = (d: string) => (existsSync(d) ? readdirSync(d).filter((x) => !x.startsWith('.')).sort().map((x) => path.join(d, x)) : []);
  return [...new Set([
    ...roots.flatMap((r) => versions.map((v) => path.join(r, v, header))),
    ...roots.flatMap((r) => subdirs(r).map((d) => path.join(d, header))),
  ])];
}

/** The first of `candidates` whose sha256 is `sha256`; `tried` lists the ones that exist. */
export function findBySha256(sha256: string, candidates: readonly string[]): { path?: string; tried: string[] } {
  const tried: string[] = [];
  for (const candidate of candidates) {
    if (!existsSync(candidate)) continue;
    tried.push(candidate);
    if (sha256File(candidate) === sha256) return { path: candidate, tried };
  }
  return { tried };
}
