/**
 * Stage boundaries, read from the sources' import statements: the folders form
 * a graph without cycles, generated code reaches the runtime only through
 * `vfio-uapi/codegen-v1`, the codec support imports nothing (not even Node.js
 * built-ins), and the generator's stages import neither the CLI, the
 * conformance suite, the scripts nor the runtime.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..');
const TOPS = ['index.ts', 'generator', 'runtime', 'generated', 'conformance', 'bin', 'scripts', 'bench', 'examples'];

/** A file's folder as a node of the graph: generator/, runtime/ and conformance/ by subfolder (their stages). */
function folderOf(file: string): string {
  const parts = file.split('/');
  if (parts.length === 1) return file;
  return ['generator', 'runtime', 'conformance'].includes(parts[0]!) && parts.length > 2 ? `${parts[0]}/${parts[1]}` : parts[0]!;
}

/** The node a `vfio-uapi/...` specifier lands on (per the bindings package's exports map). */
function packageNode(spec: string): string {
  const sub = spec.slice('vfio-uapi'.length).replace(/^\//, '');
  if (sub === '') return 'index.ts';
  if (sub === 'codegen-v1') return 'runtime/codec';
  if (sub === 'runtime') return 'runtime';
  if (sub.startsWith('runtime/')) return sub.split('/').slice(0, 2).join('/');
  return 'generated';
}

interface Import { file: string; from: string; to: string; spec: string }

function imports(): Import[] {
  const out: Import[] = [];
  const files = TOPS.flatMap((t) => (t.endsWith('.ts') ? [t] : (readdirSync(join(ROOT, t), { recursive: true }) as string[]).map((f) => join(t, f))))
    .filter((f) => f.endsWith('.ts'));
  for (const file of files) {
    for (const m of readFileSync(join(ROOT, file), 'utf8').matchAll(/^\s*(?:import|export)\b[^'"]*?from\s*'([^']+)'|import\(\s*'([^']+)'\s*\)/gm)) {
      const spec = (m[1] ?? m[2])!;
      let to: string;
      if (spec.startsWith('.')) to = folderOf(relative(ROOT, normalize(join(ROOT, dirname(file), spec))));
      else if (spec === 'vfio-uapi' || spec.startsWith('vfio-uapi/')) to = packageNode(spec);
      else to = `npm:${spec}`;
      out.push({ file, from: folderOf(file), to, spec });
    }
  }
  return out;
}

describe('stage boundaries', () => {
  const all = imports();

  it('finds the imports it reads (the scan is not empty)', () => {
    expect(all.length).toBeGreaterThan(500);
    expect(all.some((i) => i.from === 'generated' && i.spec === 'vfio-uapi/codegen-v1')).toBe(true);
  });

  it('the folders form a graph without cycles', () => {
    const edges = new Map<string, Set<string>>();
    for (const i of all) if (i.from !== i.to && !i.to.startsWith('npm:')) (edges.get(i.from) ?? edges.set(i.from, new Set()).get(i.from)!).add(i.to);
    const cycles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const visit = (n: string, path: string[]) => {
      if (state.get(n) === 'done') return;
      if (state.get(n) === 'open') { cycles.push([...path.slice(path.indexOf(n)), n].join(' -> ')); return; }
      state.set(n, 'open');
      for (const m of edges.get(n) ?? []) visit(m, [...path, n]);
      state.set(n, 'done');
    };
    for (const n of edges.keys()) visit(n, []);
    expect(cycles).toEqual([]);
  });

  it('generated code imports the runtime only through vfio-uapi/codegen-v1, and nothing else outside its folder', () => {
    const bad = all.filter((i) => i.from === 'generated' && i.to !== 'generated' && i.spec !== 'vfio-uapi/codegen-v1');
    expect(bad.map((i) => `${i.file}: ${i.spec}`)).toEqual([]);
  });

  it('the codec support imports nothing outside its folder, not even a Node.js built-in', () => {
    expect(all.filter((i) => i.from === 'runtime/codec' && i.to !== 'runtime/codec').map((i) => `${i.file}: ${i.spec}`)).toEqual([]);
  });

  it('the bindings package (index.ts, generated/, runtime/) imports nothing of the generator, the CLI or the suite', () => {
    const inPackage = (n: string) => n === 'index.ts' || n === 'generated' || n === 'runtime' || n.startsWith('runtime/');
    const bad = all.filter((i) => inPackage(i.from) && !inPackage(i.to) && !['npm:koffi', 'npm:node:fs', 'npm:node:os', 'npm:node:util', 'npm:node:module'].includes(i.to));
    expect(bad.map((i) => `${i.file}: ${i.spec}`)).toEqual([]);
  });

  it("the generator's stages import neither the CLI, the suite, the scripts nor the runtime", () => {
    const bad = all.filter((i) => i.from.startsWith('generator') && /^(bin|conformance|scripts|bench|examples|runtime|generated|index\.ts)/.test(i.to));
    expect(bad.map((i) => `${i.file}: ${i.spec}`)).toEqual([]);
  });
});
