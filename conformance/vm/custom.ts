/**
 * The `custom` kernel: Debian's newest `linux-source-*` (sid, else trixie;
 * fetched with the same private apt configuration as the stock kernels),
 * configured from a config fragment committed beside this file on top of
 * `tinyconfig`, built here with all cores, and cached outside the repo keyed by
 * (source version, fragment hash). It is the kernel the stock Debian builds
 * are not: IOMMUFD (+ the selftests' mock IOMMU), the VFIO device cdevs, the
 * mdev samples (mtty, mdpy, mbochs), everything built in.
 *
 * Cache layout under `<cache>/custom-kernel/`:
 * - `src/<pkg>_<ver>/`: the unpacked source tree;
 * - `build/<pkg>_<ver>-<hash>/`: the object tree (`make O=`), kept for incremental rebuilds;
 * - `<pkg>_<ver>-<hash>/`: the published kernel: `bzImage`, `config`, `kernel.json` (build time, image size);
 * - `<arch>.json`: which published kernel the last resolution chose (read offline on a warm run).
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createWriteStream, existsSync, promises as fs, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ARCHES } from './arches.js';
import { aptEnv, aptOptions, aptUpdate, showPackage, type Kernel } from './kernel.js';
import { cacheRoot, exec, exists, publishDir, shQuote, writeFileAtomic, type ProgressFn } from './util.js';

/** How one architecture's custom kernel is configured and built (a table row, not code). */
export interface CustomBuild {
  /** Our architecture name (the VM harness's). */
  arch: string;
  /** `ARCH=` for the kernel's make. */
  makeArch: string;
  /** The config fragment, a file in `conformance/vm/custom/`. */
  fragment: string;
  /** The make target and the image it leaves, relative to the object tree. */
  target: string;
  image: string;
}

/** Custom kernels by architecture. Only x86_64: the harness's QEMU machine (q35 + intel-iommu) is x86. */
export const CUSTOM_BUILDS: Readonly<Record<string, CustomBuild>> = {
  x86_64: { arch: 'x86_64', makeArch: 'x86_64', fragment: 'x86_64.config', target: 'bzImage', image: 'arch/x86/boot/bzImage' },
};

/** Debian suites searched for the `linux-source` metapackage, newest first. */
const SOURCE_SUITES = ['sid', 'trixie'] as const;

/** How the build went, as recorded beside the published kernel. */
export interface CustomBuildInfo {
  /** sha256 (16 hex digits) of the fragment's settings (comments and blank lines left out). */
  fragmentHash: string;
  /** The fragment file it was configured from. */
  fragment: string;
  /** Wall time of configure + make, in seconds. */
  wallS: number;
  /** CPU time (user + sys) of configure + make and everything they ran, in seconds. */
  cpuS: number;
  /** `make -j`. */
  jobs: number;
  /** True when the object tree already held a build (an incremental rebuild, not a cold one). */
  incremental: boolean;
  /** Bytes of the boot image. */
  imageBytes: number;
  /** ISO time it finished. */
  at: string;
}

/** A {@link Kernel} of suite `custom`, with how it was built. */
export interface CustomKernel extends Kernel {
  build: CustomBuildInfo;
  /** The object tree (`make O=`), with `.config` and `vmlinux`. */
  buildDir: string;
  /** The unpacked source tree. */
  sourceDir: string;
}


/** Options of {@link ensureCustomKernel}. */
export interface EnsureCustomKernelOptions {
  /** Architecture (a key of {@link CUSTOM_BUILDS}; default x86_64). */
  arch?: string;
  /** Re-resolve the newest linux-source with apt even if one is cached (also `VFIO_UAPI_REFRESH_KERNELS=1`). */
  refresh?: boolean;
  /** `make -j` (default: the number of CPUs). */
  jobs?: number;
  /** Run make under `nice -n <niceness>` (default 10: the build shares the machine). */
  niceness?: number;
}

/** A build tool the kernel's make needs, how to tell it is there, and the Debian package that provides it. */
interface BuildTool {
  what: string;
  /** A command on PATH, or an absolute file. */
  check: string;
  pkg: string;
}

/** What `make tinyconfig bzImage` with our fragment runs on the host (Documentation/process/changes.rst). */
const BUILD_TOOLS: readonly BuildTool[] = [
  { what: 'gcc', check: 'gcc', pkg: 'gcc' },
  { what: 'make', check: 'make', pkg: 'make' },
  { what: 'ld', check: 'ld', pkg: 'binutils' },
  { what: 'flex', check: 'flex', pkg: 'flex' },
  { what: 'bison', check: 'bison', pkg: 'bison' },
  { what: 'bc', check: 'bc', pkg: 'bc' },
  { what: 'perl', check: 'perl', pkg: 'perl' },
  { what: 'xz (the source tarball, the compressed image)', check: 'xz', pkg: 'xz-utils' },
  { what: 'libelf headers (objtool)', check: '/usr/include/gelf.h', pkg: 'libelf-dev' },
  { what: 'OpenSSL headers (certificate tools)', check: '/usr/include/openssl/opensslv.h', pkg: 'libssl-dev' },
  { what: 'dpkg-deb', check: 'dpkg-deb', pkg: 'dpkg' },
];

/** The Debian packages of the build tools missing on this machine (empty when all are there). */
export function missingBuildTools(): string[] {
  const dirs = (process.env.PATH ?? '').split(':').filter(Boolean);
  const have = (t: BuildTool) => (path.isAbsolute(t.check) ? existsSync(t.check) : dirs.some((d) => existsSync(path.join(d, t.check))));
  return [...new Set(BUILD_TOOLS.filter((t) => !have(t)).map((t) => `${t.pkg} (${t.what})`))];
}

/** The directory of the committed config fragments (source tree or dist/ layout). */
export function fragmentDir(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const candidates = [path.join(here, 'custom'), path.resolve(here, '..', '..', '..', 'conformance', 'vm', 'custom')];
  const found = candidates.find((d) => existsSync(d));
  if (!found) throw new Error(`the custom kernel's config fragments are missing (looked in ${candidates.join(', ')})`);
  return found;
}

/** The settings of a fragment, one `CONFIG_X=v` a line: comments and blank lines dropped (they do not change the kernel). */
export function fragmentSettings(text: string): string[] {
  return text.split('\n').map((l) => l.trim()).filter((l) => l.length > 0 && !l.startsWith('#'));
}

/** The cache key part of a fragment: sha256 of its settings, 16 hex digits. */
export function fragmentHash(text: string): string {
  return createHash('sha256').update(fragmentSettings(text).map((l) => `${l}\n`).join('')).digest('hex').slice(0, 16);
}

/** The root of the custom kernels' cache. */
export function customKernelCache(): string {
  return path.join(cacheRoot(), 'custom-kernel');
}

/** What the pointer file `<arch>.json` records. */
interface Pointer {
  dir: string;
  source: SourceRef;
}

interface SourceRef {
  /** `linux-source-7.2`. */
  name: string;
  /** `7.2.13-1`. */
  version: string;
  /** The Debian suite it came from. */
  distSuite: string;
}

/** What `kernel.json` of a published custom kernel holds (paths relative to its directory). */
interface CustomRecord {
  distSuite: string;
  version: string;
  package: string;
  packageVersion: string;
  vmlinuz: string;
  build: CustomBuildInfo;
  buildDir: string;
  sourceDir: string;
}

/**
 * Makes sure the custom kernel of `opts.arch` is built for the current
 * fragment and returns it. Warm (a published kernel for the cached source and
 * this fragment's hash): no network, no make. Cold: resolves Debian's newest
 * linux-source, downloads and unpacks it, configures and builds it (progress
 * every 30 s), then publishes it. One build at a time per cache (a lock file).
 * @throws Error naming the Debian packages when build tools are missing.
 */
export function ensureCustomKernel(onProgress?: ProgressFn, opts: EnsureCustomKernelOptions = {}): Promise<CustomKernel> {
  const arch = opts.arch ?? 'x86_64';
  let pending = inflight.get(arch);
  if (!pending) {
    pending = ensureCustomKernelNow(arch, onProgress ?? (() => {}), opts).finally(() => inflight.delete(arch));
    inflight.set(arch, pending);
  }
  return pending;
}

const inflight = new Map<string, Promise<CustomKernel>>();

async function ensureCustomKernelNow(arch: string, progress: ProgressFn, opts: EnsureCustomKernelOptions): Promise<CustomKernel> {
  const spec = CUSTOM_BUILDS[arch];
  if (!spec) throw new Error(`no custom kernel for ${arch} (there is one for: ${Object.keys(CUSTOM_BUILDS).join(', ')})`);
  const fragmentFile = path.join(fragmentDir(), spec.fragment);
  const fragment = readFileSync(fragmentFile, 'utf8');
  const hash = fragmentHash(fragment);
  const root = customKernelCache();
  const pointerFile = path.join(root, `${arch}.json`);
  const refresh = opts.refresh || process.env.VFIO_UAPI_REFRESH_KERNELS === '1';

  const pointer = await readJson<Pointer>(pointerFile);
  let source = pointer?.source;
  if (!source || refresh) source = await resolveSource(progress);
  const dirName = `${source.name}_${source.version}-${hash}`.replace(/[^A-Za-z0-9.+_-]/g, '_');
  const published = path.join(root, dirName);

  let kernel = await readPublished(published);
  if (!kernel) {
    const missing = missingBuildTools();
    if (missing.length) {
      throw new Error(`building the custom kernel needs build tools this machine lacks; install the Debian packages: ${missing.join(', ')} (apt-get install ${missing.map((m) => m.split(' ')[0]).join(' ')}; scripts/setup.sh installs them)`);
    }
    await withLock(path.join(root, `${dirName}.lock`), progress, async () => {
      if (await readPublished(published)) return;
      const sourceDir = await ensureSource(source!, progress);
      const buildDir = path.join(root, 'build', dirName);
      const info = await build(spec, sourceDir, buildDir, fragmentFile, hash, opts, progress);
      const release = (await exec('make', ['-s', '-C', sourceDir, `O=${buildDir}`, `ARCH=${spec.makeArch}`, 'kernelrelease'], { what: 'make kernelrelease' })).stdout.trim();
      await publishDir(published, async (tmp) => {
        await fs.copyFile(path.join(buildDir, spec.image), path.join(tmp, path.basename(spec.image)));
        await fs.copyFile(path.join(buildDir, '.config'), path.join(tmp, 'config'));
        // Kbuild lists the built-in "modules" even without module support: the initramfs reads it.
        const builtin = path.join(buildDir, 'modules.builtin');
        if (await exists(builtin)) await fs.copyFile(builtin, path.join(tmp, 'modules.builtin'));
        const record: CustomRecord = {
          distSuite: source!.distSuite,
          version: release,
          package: source!.name,
          packageVersion: source!.version,
          vmlinuz: path.basename(spec.image),
          build: info,
          buildDir,
          sourceDir,
        };
        await fs.writeFile(path.join(tmp, 'kernel.json'), JSON.stringify(record, null, 2) + '\n');
      });
    });
    kernel = await readPublished(published);
    if (!kernel) throw new Error(`the custom kernel was built into ${published} but cannot be read back`);
  }
  await writeFileAtomic(pointerFile, JSON.stringify({ dir: dirName, source } satisfies Pointer) + '\n');
  return kernel;
}

async function readJson<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse(await fs.readFile(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

async function readPublished(dir: string): Promise<CustomKernel | undefined> {
  const rec = await readJson<CustomRecord>(path.join(dir, 'kernel.json'));
  if (!rec) return undefined;
  const vmlinuz = path.join(dir, rec.vmlinuz);
  if (!(await exists(vmlinuz))) return undefined;
  return {
    suite: 'custom',
    arch: 'x86_64',
    distSuite: rec.distSuite,
    version: rec.version,
    package: rec.package,
    packageVersion: rec.packageVersion,
    packages: [rec.package],
    variant: rec.build.fragmentHash,
    vmlinuz,
    // Everything is built in: the initramfs finds the wanted modules in modules.builtin here and loads none.
    modulesDir: dir,
    build: rec.build,
    buildDir: rec.buildDir,
    sourceDir: rec.sourceDir,
  };
}

/** The newest `linux-source-X.Y` the `linux-source` metapackage of sid (else trixie) depends on. */
async function resolveSource(progress: ProgressFn): Promise<SourceRef> {
  const tried: string[] = [];
  for (const distSuite of SOURCE_SUITES) {
    const apt = await aptUpdate(distSuite, ARCHES.x86_64, progress);
    const meta = await showPackage(apt, 'linux-source');
    const dep = /\b(linux-source-\d+\.\d+)\b/.exec(meta?.get('depends') ?? '')?.[1];
    const pkg = dep ? await showPackage(apt, dep) : undefined;
    if (!dep || !pkg) {
      tried.push(distSuite);
      continue;
    }
    progress(`custom kernel source: ${dep} ${pkg.get('version')} (${distSuite})`);
    return { name: dep, version: pkg.get('version')!, distSuite };
  }
  throw new Error(`no linux-source-* in ${tried.join(' or ')} (the linux-source metapackage, checked after a private apt-get update)`);
}

/** Downloads and unpacks the source package into `src/<pkg>_<ver>/` (once). */
async function ensureSource(source: SourceRef, progress: ProgressFn): Promise<string> {
  const dir = path.join(customKernelCache(), 'src', `${source.name}_${source.version}`.replace(/[^A-Za-z0-9.+_-]/g, '_'));
  const marker = path.join(dir, '.vfio-uapi-unpacked');
  if (await exists(marker)) return dir;
  const aptDir = path.join(cacheRoot(), 'apt', source.distSuite);
  if (!(await exists(path.join(aptDir, 'lists')))) await aptUpdate(source.distSuite, ARCHES.x86_64, progress);
  progress(`downloading ${source.name} ${source.version} (${source.distSuite})`);
  await publishDir(dir, async (tmp) => {
    await exec('apt-get', [...aptOptions(aptDir), '-q', 'download', `${source.name}=${source.version}`], { cwd: tmp, env: aptEnv(), what: `apt-get download ${source.name}=${source.version}` });
    const deb = (await fs.readdir(tmp)).find((f) => f.endsWith('.deb'));
    if (!deb) throw new Error(`apt-get download ${source.name} left no .deb`);
    progress(`unpacking ${source.name} (about 1.8 GB)`);
    const tarball = `./usr/src/${source.name}.tar.xz`;
    await exec('sh', ['-c', `dpkg-deb --fsys-tarfile ${shQuote(deb)} | tar -xO ${shQuote(tarball)} | tar -xJ`], { cwd: tmp, what: `unpacking ${tarball} of ${deb}` });
    await fs.rm(path.join(tmp, deb));
    const top = path.join(tmp, source.name);
    if (!(await exists(path.join(top, 'Makefile')))) throw new Error(`${deb}: ${tarball} has no ${source.name}/Makefile`);
    // Publish the tree itself, not the directory around it.
    for (const entry of await fs.readdir(top)) await fs.rename(path.join(top, entry), path.join(tmp, entry));
    await fs.rmdir(top);
    await fs.writeFile(path.join(tmp, '.vfio-uapi-unpacked'), `${source.name} ${source.version} ${source.distSuite}\n`);
  });
  return dir;
}

/** CPU time (user + sys, seconds) of this process's waited-for children so far (`/proc/self/stat` cutime + cstime). */
function childrenCpuSeconds(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // After the comm field: state is fields[0], so field n of proc(5) is fields[n - 3]; cutime = 16, cstime = 17.
  return (Number(fields[13]) + Number(fields[14])) / 100;
}

/** Configures (tinyconfig + the fragment) and builds; returns the timings. */
async function build(spec: CustomBuild, sourceDir: string, buildDir: string, fragmentFile: string, hash: string, opts: EnsureCustomKernelOptions, progress: ProgressFn): Promise<CustomBuildInfo> {
  const jobs = opts.jobs ?? os.availableParallelism();
  const nice = opts.niceness ?? 10;
  const started = Date.now();
  const cpu0 = childrenCpuSeconds();
  await fs.mkdir(buildDir, { recursive: true });
  const incremental = await exists(path.join(buildDir, 'vmlinux'));
  const make = ['-C', sourceDir, `ARCH=${spec.makeArch}`];

  // Configure in a scratch tree and copy the result over only if it changed, so an unchanged config keeps the objects.
  const scratch = `${buildDir}.config-tmp`;
  await fs.rm(scratch, { recursive: true, force: true });
  await fs.mkdir(scratch, { recursive: true });
  try {
    progress(`configuring the custom kernel: tinyconfig + ${path.basename(fragmentFile)} (${hash})`);
    await exec('make', [...make, `O=${scratch}`, '-s', 'tinyconfig'], { what: 'make tinyconfig' });
    await exec(path.join(sourceDir, 'scripts', 'kconfig', 'merge_config.sh'), ['-m', '-O', scratch, path.join(scratch, '.config'), fragmentFile], { what: 'merge_config.sh', cwd: sourceDir });
    await exec('make', [...make, `O=${scratch}`, '-s', 'olddefconfig'], { what: 'make olddefconfig' });
    const config = await fs.readFile(path.join(scratch, '.config'), 'utf8');
    const unmet = unmetSettings(await fs.readFile(fragmentFile, 'utf8'), config);
    if (unmet.length) throw new Error(`the kernel's Kconfig did not take these settings of ${fragmentFile} (a missing dependency, or the option is gone from ${path.basename(sourceDir)}): ${unmet.join(', ')}`);
    const old = await fs.readFile(path.join(buildDir, '.config'), 'utf8').catch(() => '');
    if (old !== config) await fs.writeFile(path.join(buildDir, '.config'), config);
  } finally {
    await fs.rm(scratch, { recursive: true, force: true });
  }

  progress(`building the custom kernel (${path.basename(sourceDir)}, make -j${jobs}${nice ? `, nice ${nice}` : ''}; log: ${path.join(buildDir, 'build.log')})`);
  await runMake(nice, [...make, `O=${buildDir}`, `-j${jobs}`, spec.target], path.join(buildDir, 'build.log'), progress, started);
  const imageBytes = (await fs.stat(path.join(buildDir, spec.image))).size;
  const info: CustomBuildInfo = {
    fragmentHash: hash,
    fragment: path.basename(fragmentFile),
    wallS: Math.round((Date.now() - started) / 100) / 10,
    cpuS: Math.round((childrenCpuSeconds() - cpu0) * 10) / 10,
    jobs,
    incremental,
    imageBytes,
    at: new Date().toISOString(),
  };
  progress(`custom kernel built in ${info.wallS} s wall, ${info.cpuS} s CPU${incremental ? ' (incremental)' : ''}; ${spec.image} ${(imageBytes / 1e6).toFixed(1)} MB`);
  return info;
}

/** The fragment's `CONFIG_X=v` lines the final config does not have (`=n` means "is not set" or absent). */
export function unmetSettings(fragment: string, config: string): string[] {
  const have = new Map<string, string>();
  for (const line of config.split('\n')) {
    const set = /^(CONFIG_\w+)=(.*)$/.exec(line);
    if (set) have.set(set[1]!, set[2]!);
  }
  return fragmentSettings(fragment).filter((line) => {
    const m = /^(CONFIG_\w+)=(.*)$/.exec(line);
    if (!m) return true;
    const got = have.get(m[1]!);
    return m[2] === 'n' ? got !== undefined && got !== 'n' : got !== m[2];
  });
}

/** Runs make with its output in `log`; a progress line every 30 s; rejects with the log's tail on failure. */
function runMake(nice: number, args: string[], log: string, progress: ProgressFn, started: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const [cmd, argv] = nice ? ['nice', ['-n', String(nice), 'make', ...args]] : ['make', args];
    const out = createWriteStream(log);
    const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    let steps = 0;
    let last = '';
    const count = (chunk: Buffer) => {
      out.write(chunk);
      const text = chunk.toString();
      for (const line of text.split('\n')) {
        if (/^\s+[A-Z][A-Z0-9_]*\s+\S/.test(line)) {
          steps++;
          last = line.trim().split(/\s+/).pop() ?? last;
        }
      }
    };
    child.stdout.on('data', count);
    child.stderr.on('data', count);
    const timer = setInterval(() => progress(`building the custom kernel: ${steps} steps, ${Math.round((Date.now() - started) / 1000)} s (${path.basename(last)})`), 30_000);
    child.on('error', (e) => { clearInterval(timer); out.end(); reject(new Error(`make could not start: ${e.message}`)); });
    child.on('close', (code, signal) => {
      clearInterval(timer);
      out.end(() => {
        if (code === 0) { resolve(); return; }
        const tail = readFileSync(log, 'utf8').trimEnd().split('\n').slice(-25).join('\n');
        reject(new Error(`building the custom kernel failed (make ${signal ?? `exit ${code}`}); full log: ${log}\n${tail}`));
      });
    });
  });
}

/**
 * Runs `body` holding `lockFile` (created exclusively, holding our pid); waits
 * while another live process holds it, takes over one left by a dead process.
 */
async function withLock(lockFile: string, progress: ProgressFn, body: () => Promise<void>): Promise<void> {
  await fs.mkdir(path.dirname(lockFile), { recursive: true });
  let told = false;
  for (;;) {
    try {
      await fs.writeFile(lockFile, String(process.pid), { flag: 'wx' });
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const pid = Number(await fs.readFile(lockFile, 'utf8').catch(() => '0'));
      if (!pid || !existsSync(`/proc/${pid}`)) {
        await fs.rm(lockFile, { force: true });
        continue;
      }
      if (!told) progress(`waiting for process ${pid}, which is building the custom kernel`);
      told = true;
      await new Promise((r) => setTimeout(r, 5000));
    }
  }
  try {
    await body();
  } finally {
    await fs.rm(lockFile, { force: true });
  }
}
