/**
 * The package as a user gets it: `npm pack`ed, unpacked into a consumer's
 * node_modules (with the dependencies a real install would put beside it,
 * koffi and @types/node, linked), every subpath of the exports map imported
 * at run time, and a strict TypeScript consumer compiled with node16,
 * nodenext and bundler resolution. Also: the bindings bundle with esbuild for
 * `--platform=neutral` (no Node.js built-in at import).
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/** Runs a command without blocking the worker (vitest's RPC times out on a long synchronous spawn). */
function run(cmd: string, args: string[], cwd?: string): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(cmd, args, { cwd, encoding: 'utf8', maxBuffer: 1 << 26 }, (err, stdout, stderr) => done({ status: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }));
  });
}

const ROOT = resolve(import.meta.dirname, '..');
const HAVE_DIST = existsSync(join(ROOT, 'dist', 'generated', 'vfio', 'index.js'));
let tmp: string;
let consumer: string;
let pkg: string;
afterAll(() => tmp && rmSync(tmp, { recursive: true, force: true }));

/**
 * Every import specifier the exports map offers, expanded over the packed files: JavaScript modules
 * (`{ types, default }` targets), or with `files`, the plain file targets (package.json, JSON schemas).
 */
function specifiers(files = false): string[] {
  const exports = (JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8')) as { exports: Record<string, string | { default: string }> }).exports;
  const out: string[] = [];
  for (const [key, target] of Object.entries(exports)) {
    const file = typeof target === 'string' ? target : target.default;
    if ((typeof target === 'string') !== files) continue;
    if (!key.includes('*')) { out.push(`vfio-uapi${key.slice(1)}`); continue; }
    const [dir, ext] = [file.slice(0, file.indexOf('*')), file.slice(file.indexOf('*') + 1)];
    for (const f of readdirSync(join(pkg, dir)).filter((x) => x.endsWith(ext) && !x.endsWith('.d.ts'))) {
      out.push(`vfio-uapi${key.slice(1).replace('*', ext ? f.slice(0, -ext.length) : f)}`);
    }
  }
  return out;
}

describe.skipIf(!HAVE_DIST)('the packed package', () => {
  beforeAll(() => {
    tmp = mkdtempSync(join(tmpdir(), 'vfio-uapi-pack-'));
    const out = execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', tmp], { cwd: ROOT, encoding: 'utf8' });
    const tarball = join(tmp, (JSON.parse(out) as { filename: string }[])[0]!.filename);
    consumer = join(tmp, 'consumer');
    pkg = join(consumer, 'node_modules', 'vfio-uapi');
    mkdirSync(pkg, { recursive: true });
    execFileSync('tar', ['xzf', tarball, '-C', pkg, '--strip-components=1']);
    for (const dep of ['koffi', '@types/node']) {
      mkdirSync(join(consumer, 'node_modules', dep, '..'), { recursive: true });
      symlinkSync(join(ROOT, 'node_modules', dep), join(consumer, 'node_modules', dep));
    }
    writeFileSync(join(consumer, 'package.json'), '{ "type": "module", "private": true }\n');
  }, 120_000);

  it('holds no generator templates, tests or benchmarks, and its LICENSE and CHANGELOG', () => {
    expect(existsSync(join(pkg, 'LICENSE'))).toBe(true);
    expect(existsSync(join(pkg, 'CHANGELOG.md'))).toBe(true);
    expect(existsSync(join(pkg, 'templates'))).toBe(false);
    expect(existsSync(join(pkg, 'dist', 'bench'))).toBe(false);
    expect(existsSync(join(pkg, 'dist', 'test'))).toBe(false);
  });

  it('every subpath of its exports map imports at run time, and the bindings decode', async () => {
    const specs = specifiers();
    expect(specs).toEqual(expect.arrayContaining(['vfio-uapi', 'vfio-uapi/vfio', 'vfio-uapi/vfio/abi/x86_64', 'vfio-uapi/vfio/abi/x86_64.js', 'vfio-uapi/runtime/encoding', 'vfio-uapi/runtime/encoding.js', 'vfio-uapi/iommufd/abi/s390x.js']));
    const script = `
      const failed = [];
      for (const s of ${JSON.stringify(specs)}) { try { await import(s); } catch (e) { failed.push(s + ': ' + e.message); } }
      const { existsSync } = await import('node:fs');
      for (const s of ${JSON.stringify(specifiers(true))}) { try { if (!existsSync(new URL(import.meta.resolve(s)))) failed.push(s + ': no file'); } catch (e) { failed.push(s + ': ' + e.message); } }
      const { vfio_region_info } = await import('vfio-uapi/vfio');
      const bytes = new Uint8Array(32); new DataView(bytes.buffer).setUint32(0, 32, true); bytes[16] = 0x10;
      const info = vfio_region_info.decode(bytes);
      console.log(JSON.stringify({ failed, argsz: info.argsz, size: String(info.size) }));`;
    const r = await run(process.execPath, ['--input-type=module', '-e', script], consumer);
    expect(r.stderr).toBe('');
    const got = JSON.parse(r.stdout) as { failed: string[]; argsz: number; size: string };
    expect(got.failed).toEqual([]);
    expect(specs.length).toBeGreaterThan(40);
    expect(got).toMatchObject({ argsz: 32, size: '16' });
  }, 60_000);

  it.each(['node16', 'nodenext', 'bundler'])('a strict TypeScript consumer compiles with %s resolution, and the descriptors type its ioctl calls', async (resolution) => {
    const dir = join(consumer, resolution);
    mkdirSync(dir, { recursive: true });
    const module = resolution === 'bundler' ? 'esnext' : resolution;
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({
      compilerOptions: { strict: true, noEmit: true, module, moduleResolution: resolution, target: 'es2022', lib: ['es2022'], types: ['node'], skipLibCheck: false, exactOptionalPropertyTypes: true, noUncheckedIndexedAccess: true },
      files: ['consumer.ts'],
    }));
    const imports = specifiers().map((s, i) => `import * as m${i} from '${s}';`).join('\n');
    writeFileSync(join(dir, 'consumer.ts'), `${imports}
import { vfio, runtime } from 'vfio-uapi';
import * as v from 'vfio-uapi/vfio';
import { ioctl, type FlagSet, type StructIoctl } from 'vfio-uapi/runtime';
import type { VfioDeviceInfo } from 'vfio-uapi/vfio';

export function useIt(fd: number): number {
  const { value, result } = ioctl(fd, vfio.ioctls.VFIO_DEVICE_GET_INFO, { argsz: 24 });
  const regions: number = value.num_regions;
  const d: StructIoctl<VfioDeviceInfo> = v.ioctls.VFIO_DEVICE_GET_INFO;
  const info: VfioDeviceInfo = d.arg.codec.decode(new Uint8Array(24));
  // @ts-expect-error a string is not a __u32
  ioctl(fd, v.ioctls.VFIO_DEVICE_GET_INFO, { argsz: 'x' });
  // @ts-expect-error num_regions is a number, not a bigint
  const wrong: bigint = value.num_regions;
  const version: number = runtime.ioctl(fd, v.VFIO_GET_API_VERSION);
  const byDescriptor: number = ioctl(fd, v.ioctls.VFIO_GET_API_VERSION);
  const zero: 0 = v.VFIO_API_VERSION;
  const flags: FlagSet<v.VfioRegionInfoFlagsName> = v.vfio_region_info_flags;
  void [m0, wrong, zero, flags, info];
  return regions + version + byDescriptor + result;
}
`);
    const r = await run(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', dir], dir);
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  }, 120_000);

  it('the bindings bundle with esbuild for a neutral platform, and the bundle decodes', async () => {
    const out = join(tmp, 'bundle.mjs');
    const entry = join(consumer, 'entry.mjs');
    writeFileSync(entry, "export { vfio_region_info, ABI, ioctls } from 'vfio-uapi/vfio';\n");
    const r = await run(join(ROOT, 'node_modules', '.bin', 'esbuild'), [entry, '--bundle', '--platform=neutral', `--outfile=${out}`, '--log-level=warning'], consumer);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(readFileSync(out, 'utf8')).not.toMatch(/from ["']node:|require\(["']node:/);
    const b = await run(process.execPath, ['--input-type=module', '-e', `const b = await import(${JSON.stringify(`file://${out}`)}); console.log(b.ABI, b.vfio_region_info.decode(new Uint8Array(32)).argsz, b.ioctls.VFIO_DEVICE_GET_INFO.arg.kind);`]);
    expect(b.stderr).toBe('');
    expect(b.stdout.trim()).toMatch(process.arch === 'x64' ? /^x86_64 0 struct$/ : /^\w+ 0 struct$/);
  }, 60_000);
  // The install step as npm runs it (`sh -c <scripts.install>` in the package): without a C compiler it says so and
  // succeeds, ioctl() going through koffi; with one it builds the Node-API addon, which ioctl() then takes.
  it('installs without a C compiler (koffi serves ioctl), and with C and C++ compilers builds the addons, ioctl() taking the fastest', async () => {
    const script = (JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8')) as { scripts: { install: string } }).scripts.install;
    const bin = join(tmp, 'bin-node-only');
    mkdirSync(bin, { recursive: true });
    symlinkSync(process.execPath, join(bin, 'node'));
    const built = join(pkg, 'runtime', 'native', 'build');
    const pathOf = `import { ioctlPath } from 'vfio-uapi/runtime'; console.log(ioctlPath());`;
    const install = (path: string) => new Promise<{ status: number; stderr: string }>((done) => {
      execFile('/bin/sh', ['-c', script], { cwd: pkg, env: { ...process.env, PATH: path } }, (err, _out, stderr) => done({ status: err ? 1 : 0, stderr }));
    });

    const without = await install(bin);
    expect(without.status, without.stderr).toBe(0);
    expect(without.stderr).toMatch(/^build-addon: skipped: no C compiler built syscalls\.c .*; no C\+\+ compiler built ioctl-v8\.cc .*; ioctl\(\) goes through koffi\n$/);
    expect(existsSync(built) ? readdirSync(built) : []).toEqual([]);
    expect((await run(process.execPath, ['--input-type=module', '-e', pathOf], consumer)).stdout.trim()).toBe('koffi');

    const onPath = (names: string[]) => names.some((c) => (process.env.PATH ?? '').split(':').some((d) => existsSync(join(d, c))));
    if (!onPath(['cc', 'gcc', 'clang'])) return; // this machine has no C compiler: only the first half applies
    const withCc = await install(process.env.PATH ?? '');
    expect(withCc.status, withCc.stderr).toBe(0);
    const cxx = onPath(['c++', 'g++', 'clang++']);
    expect(readdirSync(built).sort()).toEqual([
      ...(cxx ? [`ioctl-v8-${process.platform}-${process.arch}-abi${process.versions.modules}.node`] : []),
      `syscalls-${process.platform}-${process.arch}.node`,
    ]);
    expect((await run(process.execPath, ['--input-type=module', '-e', pathOf], consumer)).stdout.trim()).toBe(cxx ? 'v8' : 'napi');
  }, 120_000);
});
