/**
 * The runtime's Node-API system-call addon (runtime/native/syscalls.c) for
 * guest architectures koffi has no build for: cross-compiled with Debian's
 * `<triplet>-gcc` against the Node-API headers (ABI-stable across Node
 * versions, so the host's headers serve the guest's node), into the cache,
 * keyed by a hash of the source, the headers and the compiler. Never
 * committed as a binary.
 */
import { createHash } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Arch } from './arches.js';
import { cacheRoot, exec, exists, writeFileAtomic, type ProgressFn } from './util.js';

/** The C source, found from this module (dist/conformance/vm or conformance/vm) up to the package root. */
export function addonSource(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const cand = path.join(dir, 'runtime', 'native', 'syscalls.c');
    if (existsSync(cand)) return cand;
    dir = path.dirname(dir);
  }
  throw new Error('runtime/native/syscalls.c not found above conformance/vm');
}

/** Where `node_api.h` is: beside the running node (official builds), or Debian's nodejs/libnode-dev. */
export function nodeApiIncludeDir(): string {
  const candidates = [path.join(path.dirname(path.dirname(process.execPath)), 'include', 'node'), '/usr/include/node'];
  const found = candidates.find((d) => existsSync(path.join(d, 'node_api.h')));
  if (!found) throw new Error(`node_api.h not found (looked in ${candidates.join(', ')}): install Node.js headers (Debian: libnode-dev)`);
  return found;
}

/**
 * Builds (or reuses) the addon for `arch` and returns its path; undefined for
 * architectures whose runtime uses koffi.
 */
export async function ensureSyscallsAddon(arch: Arch, onProgress?: ProgressFn): Promise<string | undefined> {
  if (arch.syscalls !== 'napi') return undefined;
  if (!arch.cross) throw new Error(`${arch.name} uses the napi system-call backend but its row names no cross compiler`);
  const cc = `${arch.cross.triplet}-gcc`;
  const source = addonSource();
  const include = nodeApiIncludeDir();
  const version = await exec(cc, ['--version']).catch(() => {
    throw new Error(`${cc} not found: apt-get install ${arch.cross!.package}`);
  });
  const hash = createHash('sha256').update(await fs.readFile(source)).update(version.stdout);
  for (const h of ['node_api.h', 'js_native_api.h', 'node_api_types.h', 'js_native_api_types.h']) {
    hash.update(await fs.readFile(path.join(include, h)).catch(() => Buffer.alloc(0)));
  }
  const out = path.join(cacheRoot(), 'native', `syscalls-${arch.name}-${hash.digest('hex').slice(0, 16)}.node`);
  if (await exists(out)) return out;
  onProgress?.(`building the system-call addon for ${arch.name} with ${cc}`);
  const tmp = `${out}.tmp-${process.pid}`;
  try {
    await fs.mkdir(path.dirname(out), { recursive: true });
    await exec(cc, ['-O2', '-Wall', '-Werror', '-shared', '-fPIC', '-DNODE_GYP_MODULE_NAME=vfio_uapi_syscalls', `-I${include}`, source, '-o', tmp], {
      what: `${cc} ${path.basename(source)}`,
    });
    await writeFileAtomic(out, await fs.readFile(tmp), 0o755);
  } finally {
    await fs.rm(tmp, { force: true });
  }
  return out;
}
