/**
 * The bindings package as a user gets it: `packages/vfio-uapi` packed with
 * `npm pack`, installed with npm into a fresh consumer directory with no C or
 * C++ compiler (`CC=/bin/false CXX=/bin/false`), every subpath of its exports
 * map imported at run time, and a strict TypeScript consumer compiled with
 * node16, nodenext and bundler resolution. Also: a decode-only install
 * (`--omit=optional`: no koffi) decodes; the bindings bundle with esbuild for
 * `--platform=neutral` (no Node.js built-in at import); the generator package
 * ships no copy of the bindings.
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/** Runs a command without blocking the worker (vitest's RPC times out on a long synchronous spawn). */
function run(cmd: string, args: string[], cwd?: string, env?: NodeJS.ProcessEnv): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(cmd, args, { cwd, env, encoding: 'utf8', maxBuffer: 1 << 26 }, (err, stdout, stderr) => done({ status: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }));
  });
}

const ROOT = resolve(import.meta.dirname, '..');
const BINDINGS = join(ROOT, 'packages', 'vfio-uapi');
const HAVE_DIST = existsSync(join(BINDINGS, 'dist', 'generated', 'vfio', 'index.js'));
/** What only the generator needs: none of it may reach a user of the bindings. */
const GENERATOR_ONLY = ['tree-sitter', 'tree-sitter-c', 'handlebars', 'commander', 'uglify-js', 'vfio-uapi-generator'];
let tmp: string;
let tarball: string;
let consumer: string;
let pkg: string;
afterAll(() => tmp && rmSync(tmp, { recursive: true, force: true }));

/** `npm install` of the packed tarball in a new directory, with no compiler; offline when npm's cache has what it needs. */
async function install(dir: string, ...flags: string[]): Promise<void> {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), '{ "type": "module", "private": true }\n');
  const env = { ...process.env, CC: '/bin/false', CXX: '/bin/false', npm_config_loglevel: 'error' };
  const r = await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', ...flags, tarball], dir, env);
  expect(r.stderr.replace(/^npm warn.*\n?/gim, '')).toBe('');
  expect(r.status).toBe(0);
}

/**
 * Every import specifier the exports map offers, expanded over the installed files: JavaScript modules
 * (`{ types, default }` targets), or with `files`, the plain file targets (package.json).
 */
function specifiers(files = false): string[] {
  const exports = (JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8')) as { exports: Record<string, string | { default: string }> }).exports;
  const out: string[] = [];
  for (const [key, target] of Object.entries(exports)) {
    const file = typeof target === 'string' ? target : target.default;
    if ((typeof target === 'string') !== files) continue;
    if (!key.includes('*')) { out.push(`vfio-uapi${key.slice(1)}`); continue; }
    const [dir, ext] = [file.slice(0, file.indexOf('*')), file.slice(file.indexOf('*') + 1)];
    for (const f of (readdirSync(join(pkg, dir), { recursive: true }) as string[]).filter((x) => x.endsWith(ext) && !x.endsWith('.d.ts'))) {
      out.push(`vfio-uapi${key.slice(1).replace('*', ext ? f.slice(0, -ext.length) : f)}`);
    }
  }
  return out;
}

describe.skipIf(!HAVE_DIST)('the packed package', () => {
  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'vfio-uapi-pack-'));
    const out = execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', tmp], { cwd: BINDINGS, encoding: 'utf8' });
    tarball = join(tmp, (JSON.parse(out) as { filename: string }[])[0]!.filename);
    consumer = join(tmp, 'consumer');
    pkg = join(consumer, 'node_modules', 'vfio-uapi');
    await install(consumer);
    // The TypeScript consumer below compiles against Node's types, as a real consumer project would have them.
    mkdirSync(join(consumer, 'node_modules', '@types'), { recursive: true });
    symlinkSync(join(ROOT, 'node_modules', '@types', 'node'), join(consumer, 'node_modules', '@types', 'node'));
  }, 300_000);

  it('installs with no compiler and pulls nothing of the generator: only koffi (optional) beside it', () => {
    const installed = readdirSync(join(consumer, 'node_modules')).filter((n) => !n.startsWith('.'));
    for (const name of GENERATOR_ONLY) expect(installed).not.toContain(name);
    expect(installed.filter((n) => n !== '@types').sort()).toEqual(['koffi', 'vfio-uapi']);
    expect(existsSync(join(pkg, 'LICENSE'))).toBe(true);
    expect(existsSync(join(pkg, 'CHANGELOG.md'))).toBe(true);
    for (const dir of ['templates', 'generator', join('dist', 'generator'), join('dist', 'bench'), join('dist', 'conformance'), 'test']) expect(existsSync(join(pkg, dir))).toBe(false);
  });

  it('a decode-only install (--omit=optional) has no koffi and decodes; the runtime says what is missing only when a system call is made', async () => {
    const dir = join(tmp, 'decode-only');
    await install(dir, '--omit=optional');
    expect(readdirSync(join(dir, 'node_modules')).filter((n) => !n.startsWith('.'))).toEqual(['vfio-uapi']);
    const r = await run(process.execPath, ['--input-type=module', '-e', `
      const { vfio_region_info } = await import('vfio-uapi/vfio');
      const runtime = await import('vfio-uapi/runtime');
      const bytes = vfio_region_info.encode({ argsz: 32, index: 2, size: 4096n });
      let error = 'none';
      try { runtime.ioctl(0, 0x3b64); } catch (e) { error = e.message; }
      console.log(JSON.stringify({ size: String(vfio_region_info.decode(bytes).size), error }));`], dir);
    expect(r.stderr).toBe('');
    const got = JSON.parse(r.stdout) as { size: string; error: string };
    expect(got.size).toBe('4096');
    expect(got.error).toMatch(/koffi/);
  }, 300_000);

  it('the generator package ships no copy of the bindings or the runtime, and depends on vfio-uapi', () => {
    const out = execFileSync('npm', ['pack', '--ignore-scripts', '--dry-run', '--json'], { cwd: ROOT, encoding: 'utf8' });
    const files = (JSON.parse(out) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path);
    expect(files).toContain('dist/bin/vfio-uapi.js');
    expect(files).toContain('templates/codecs.ts.hbs');
    expect(files.filter((f) => /^(dist\/)?(runtime|generated)\/.*\.(js|ts)$/.test(f) || f.startsWith('packages/'))).toEqual([]);
    const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string>; version: string };
    expect(manifest.dependencies['vfio-uapi']).toBe(manifest.version);
  });

  it('every subpath of its exports map imports at run time, and the bindings decode', async () => {
    const specs = specifiers();
    expect(specs).toEqual(expect.arrayContaining(['vfio-uapi', 'vfio-uapi/codegen-v1', 'vfio-uapi/vfio', 'vfio-uapi/vfio/abi/x86_64', 'vfio-uapi/vfio/abi/x86_64.js', 'vfio-uapi/runtime/driver/ioctl', 'vfio-uapi/runtime/codec/encoding.js', 'vfio-uapi/iommufd/abi/s390x.js']));
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
});
