/**
 * The exit-code contract (README, "Exit codes"): 0 success, 1 a check found a
 * problem, 2 a missing prerequisite, 3 bad input or usage; errors in one line,
 * never a stack trace.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EXIT } from '../bin/commands/common.js';
import { installedClangs } from '../conformance/clang/toolchain.js';
import { writeHeaders } from './helpers.js';

const root = join(import.meta.dirname, '..');
const cli = join(root, 'dist', 'bin', 'vfio-uapi.js');
const run = (args: string[], env: Record<string, string> = {}, timeout?: number) =>
  spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, cwd: root, timeout });
const noStack = (r: { stderr: string }) => expect(r.stderr).not.toMatch(/^\s+at /m);

describe.skipIf(!existsSync(cli))('exit codes', () => {
  const ok = writeHeaders({ 'ok.h': 'struct s { __u32 a; };\n#define K 1\n' });
  const changed = writeHeaders({ 'ok.h': 'struct s { __u64 a; };\n#define K 1\n#define L 2\n' });

  it('the documented values', () => {
    expect(EXIT).toEqual({ OK: 0, PROBLEM: 1, PREREQUISITE: 2, USAGE: 3, INTERNAL: 4 });
  });

  it('0: success, help and version', () => {
    expect(run(['layout', '--header', ok, '--abi', 'x86_64']).status).toBe(0);
    expect(run(['--help']).status).toBe(0);
    expect(run(['--version']).status).toBe(0);
    expect(run(['diff', ok, changed, '--abi', 'x86_64']).status).toBe(0); // a diff is not a failure unless asked
  });

  it('3: an output folder that cannot be made, in one line; and a cache that cannot be written does not stop generate (nor hang it)', () => {
    // Under /proc, mkdir answers ENOENT below an existing folder: Node's own recursive mkdirSync spins forever there.
    const out = run(['generate', '--header', ok, '--out', '/proc/vfio-uapi-nope/out'], {}, 30_000);
    expect(out.status).toBe(EXIT.USAGE);
    expect(out.stderr.trim()).toMatch(/^vfio-uapi: ENOENT: .*mkdir '\/proc\/vfio-uapi-nope'$/);
    noStack(out);
    const dir = join(writeHeaders({ 'x.h': '' }), '..', 'gen');
    const cached = run(['generate', '--header', ok, '--out', dir], { VFIO_UAPI_CACHE: '/proc/vfio-uapi-nope/cache' }, 30_000);
    expect(cached.stderr).toBe('');
    expect(cached.status).toBe(EXIT.OK);
    expect(existsSync(join(dir, 'ok', 'index.ts'))).toBe(true);
  });

  it('3: generate of a header whose records differ between ABIs: a located error, not a stack trace', () => {
    const h = writeHeaders({ 'dep.h': 'struct both { __u32 a; };\n#ifdef __x86_64__\nstruct only_x86 { __u32 b; };\n#endif\n' });
    const r = run(['generate', '--header', h, '--out', join(h, '..', 'gen')]);
    expect(r.status).toBe(EXIT.USAGE);
    expect(r.stderr.trim()).toMatch(/^vfio-uapi: .*dep\.h:3:1: error: the header declares different records on different ABIs \(struct only_x86 on x86_64 only\)/);
    noStack(r);
    expect(run(['generate', '--header', h, '--abi', 'x86_64', '--out', join(h, '..', 'gen')]).status).toBe(EXIT.OK);
  });

  it('1: a check found a problem (diff --fail-on, generate --check)', () => {
    const breaking = run(['diff', ok, changed, '--abi', 'x86_64', '--fail-on', 'breaking']);
    expect(breaking.status).toBe(EXIT.PROBLEM);
    expect(breaking.stderr).toMatch(/\d+ breaking change\(s\) \(--fail-on breaking\)/);
    const onlyAdded = writeHeaders({ 'ok.h': 'struct s { __u32 a; };\n#define K 1\n#define NEW 3\n' });
    expect(run(['diff', ok, onlyAdded, '--abi', 'x86_64', '--fail-on', 'breaking']).status).toBe(EXIT.OK);
    expect(run(['diff', ok, onlyAdded, '--abi', 'x86_64', '--fail-on', 'any']).status).toBe(EXIT.PROBLEM);
    const out = join(ok, '..', 'gen');
    expect(run(['generate', '--header', ok, '--out', out, '--abi', 'x86_64']).status).toBe(0);
    writeFileSync(join(out, 'ok', 'index.ts'), '// edited\n');
    const check = run(['generate', '--check', '--header', ok, '--out', out, '--abi', 'x86_64']);
    expect(check.status).toBe(EXIT.PROBLEM);
    noStack(check);
  });

  it('2: a missing prerequisite (no clang on PATH for verify)', () => {
    const empty = join(ok, '..', 'empty-path');
    mkdirSync(empty, { recursive: true });
    const r = run(['verify', '--abi', 'x86_64'], { PATH: empty });
    expect(r.status).toBe(EXIT.PREREQUISITE);
    expect(r.stderr).toMatch(/clang/);
    noStack(r);
  });

  it('3: bad input or usage, in one line', () => {
    const bad = writeHeaders({ 'bad.h': 'struct s { int a; int a; };\n' });
    const cases = [
      run(['layout', '--header', bad, '--abi', 'x86_64']),
      run(['layout', '--header', ok, '--abi', 'vax']),
      run(['layout', '--header', ok]),
      run(['diff', ok]),
      run(['diff', ok, changed, '--fail-on', 'sometimes']),
      run(['frobnicate']),
      run(['generate', '--header', bad, '--out', join(bad, '..', 'gen')]),
      run(['conformance', '--kernel', 'nosuchkernel']),
    ];
    for (const r of cases) {
      expect(r.status, r.stderr).toBe(EXIT.USAGE);
      noStack(r);
    }
    expect(cases[0]!.stderr).toMatch(/bad\.h:1:\d+: error: duplicate member 'a'/);
    expect(existsSync(join(bad, '..', 'gen'))).toBe(false);
  });

  it.skipIf(installedClangs().length === 0)('verify --bindings DIR takes a folder of several headers\' bindings, as the default', () => {
    const r = run(['verify', '--bindings', 'generated', '--abi', 'x86_64', '--json']);
    expect(r.status, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as { bindings: { header: string }[] };
    expect(doc.bindings.map((b) => b.header).sort()).toEqual(['iommufd.h', 'vfio.h', 'vfio_ccw.h', 'vfio_zdev.h']);
  }, 300_000);
});
