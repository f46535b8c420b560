/**
 * Kernel module resolution for the initramfs: which modules a set of wanted
 * names needs, in load order, using the kernel's own metadata.
 *
 * Dependencies come from `modules.dep` when the tree has one. Debian's
 * packages do not ship it (depmod writes it at install time, and the host may
 * lack kmod), so otherwise they come from each module's `.modinfo` section
 * (`depends=`, which modpost records and depmod derives the same edges from),
 * plus `softdep=` "pre:" modules when present in the tree.
 */
import { gunzipSync } from 'node:zlib';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { execRaw } from './util.js';

/** A loadable module of a kernel tree. */
export interface ModuleFile {
  /** Canonical name (`vfio_pci`: dashes become underscores). */
  name: string;
  /** Path relative to the modules directory (`kernel/drivers/vfio/pci/vfio-pci.ko.xz`). */
  path: string;
}

/** What {@link resolveModules} found. */
export interface ModulePlan {
  /** Modules to insmod, dependencies first. */
  load: ModuleFile[];
  /** Wanted names that are built into the kernel. */
  builtin: string[];
}

/** Canonical module name of a name or path (`vfio-pci.ko.xz` -> `vfio_pci`). */
export function moduleName(fileOrName: string): string {
  return path.basename(fileOrName).replace(/\.ko(\.(xz|zst|gz))?$/, '').replace(/-/g, '_');
}

/** Reads a module file, decompressing `.ko.xz` / `.ko.zst` / `.ko.gz`. */
export async function readModule(file: string): Promise<Buffer> {
  if (file.endsWith('.ko')) return fs.readFile(file);
  if (file.endsWith('.ko.gz')) return gunzipSync(await fs.readFile(file));
  if (file.endsWith('.ko.xz')) return (await execRaw('xz', ['-dc', file], { what: `xz -dc ${file}` })).stdout;
  if (file.endsWith('.ko.zst')) return (await execRaw('zstd', ['-dcq', file], { what: `zstd -dc ${file}` })).stdout;
  throw new Error(`not a kernel module: ${file}`);
}

/** The `key=value` strings of an ELF64 module's `.modinfo` section (either byte order: s390x modules are big-endian). */
export function modinfo(elf: Buffer): Map<string, string[]> {
  if (elf.readUInt32BE(0) !== 0x7f454c46 || elf[4] !== 2 || (elf[5] !== 1 && elf[5] !== 2)) throw new Error('not an ELF64 file');
  const le = elf[5] === 1;
  const u16 = (at: number) => (le ? elf.readUInt16LE(at) : elf.readUInt16BE(at));
  const u32 = (at: number) => (le ? elf.readUInt32LE(at) : elf.readUInt32BE(at));
  const u64 = (at: number) => Number(le ? elf.readBigUInt64LE(at) : elf.readBigUInt64BE(at));
  const shoff = u64(0x28);
  const shentsize = u16(0x3a);
  const shnum = u16(0x3c);
  const shstrndx = u16(0x3e);
  const section = (i: number) => {
    const at = shoff + i * shentsize;
    return { name: u32(at), offset: u64(at + 0x18), size: u64(at + 0x20) };
  };
  const strtab = section(shstrndx);
  const info = new Map<string, string[]>();
  for (let i = 0; i < shnum; i++) {
    const s = section(i);
    const nameEnd = elf.indexOf(0, strtab.offset + s.name);
    if (elf.toString('latin1', strtab.offset + s.name, nameEnd) !== '.modinfo') continue;
    for (const entry of elf.toString('latin1', s.offset, s.offset + s.size).split('\0')) {
      const eq = entry.indexOf('=');
      if (eq <= 0) continue;
      const key = entry.slice(0, eq);
      info.set(key, [...(info.get(key) ?? []), entry.slice(eq + 1)]);
    }
  }
  return info;
}

async function listModules(dir: string, rel = 'kernel', out = new Map<string, string>()): Promise<Map<string, string>> {
  // A kernel without module support (the custom one) has no kernel/ tree: every module is in modules.builtin.
  if (rel === 'kernel' && !(await fs.stat(path.join(dir, rel)).catch(() => undefined))) return out;
  for (const entry of await fs.readdir(path.join(dir, rel), { withFileTypes: true })) {
    const r = `${rel}/${entry.name}`;
    if (entry.isDirectory()) await listModules(dir, r, out);
    else if (/\.ko(\.(xz|zst|gz))?$/.test(entry.name)) out.set(moduleName(entry.name), r);
  }
  return out;
}

/**
 * Resolves `wanted` module names in the tree at `modulesDir` to the modules to
 * load (transitively, dependencies first) and those built in. Throws if a
 * wanted module is neither built in nor present; `optional` ones are loaded
 * when present as modules and otherwise left out.
 */
export async function resolveModules(modulesDir: string, wanted: readonly string[], optional: readonly string[] = []): Promise<ModulePlan> {
  const builtinText = await fs.readFile(path.join(modulesDir, 'modules.builtin'), 'utf8').catch(() => '');
  const builtins = new Set(builtinText.split('\n').filter(Boolean).map(moduleName));

  // name -> path, and a way to get a module's direct dependencies
  let files: Map<string, string>;
  let depsOf: (name: string) => Promise<string[]>;
  const depText = await fs.readFile(path.join(modulesDir, 'modules.dep'), 'utf8').catch(() => undefined);
  if (depText) {
    const dep = new Map<string, string[]>();
    files = new Map();
    for (const line of depText.split('\n')) {
      const [mod, rest] = line.split(':');
      if (!mod || rest === undefined) continue;
      files.set(moduleName(mod), mod);
      dep.set(moduleName(mod), rest.trim().split(/\s+/).filter(Boolean).map(moduleName));
    }
    depsOf = async (name) => dep.get(name) ?? [];
  } else {
    files = await listModules(modulesDir);
    depsOf = async (name) => {
      const info = modinfo(await readModule(path.join(modulesDir, files.get(name)!)));
      const hard = (info.get('depends') ?? []).join(',').split(',').filter(Boolean).map(moduleName);
      const pre = (info.get('softdep') ?? []).flatMap((s) => /pre:\s*([^:]*?)(?:\s+post:|$)/.exec(s)?.[1].split(/\s+/) ?? []);
      return [...hard, ...pre.filter(Boolean).map(moduleName).filter((m) => files.has(m))];
    };
  }

  const load: ModuleFile[] = [];
  const builtin: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = async (name: string, chain: string[]): Promise<void> => {
    if (state.get(name) === 'done' || state.get(name) === 'visiting') return;
    if (!files.has(name)) {
      if (builtins.has(name)) {
        if (chain.length === 0) builtin.push(name);
        state.set(name, 'done');
        return;
      }
      throw new Error(`module ${name} (needed by ${chain.length ? chain.join(' <- ') : 'the VM harness'}) is neither built in nor in ${modulesDir}`);
    }
    state.set(name, 'visiting');
    for (const dep of await depsOf(name)) await visit(dep, [name, ...chain]);
    state.set(name, 'done');
    load.push({ name, path: files.get(name)! });
  };
  for (const w of wanted) await visit(moduleName(w), []);
  // Optional ones (an IOMMU driver that may be built in or absent): loaded when the tree has them as modules.
  for (const o of optional) if (files.has(moduleName(o))) await visit(moduleName(o), []);
  return { load, builtin };
}
