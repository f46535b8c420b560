/**
 * Faster boots: QEMU can start an uncompressed ELF `vmlinux` through its PVH
 * entry point, skipping SeaBIOS's bzImage loader and the in-guest
 * decompression (about 3 s under TCG). The vmlinux is unpacked once from the
 * bzImage payload and cached beside the kernel.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { Kernel } from './kernel.js';
import { cacheRoot, execRaw, exists, writeFileAtomic, type ProgressFn } from './util.js';

/** Xen ELF note type of the 32-bit PVH entry point. */
const XEN_ELFNOTE_PHYS32_ENTRY = 18;

/**
 * Returns the path of a PVH-bootable vmlinux for `kernel` (unpacking it on
 * first use), or undefined if the kernel has no PVH entry or its payload
 * format is not one we can unpack, in which case boot the bzImage.
 */
export async function ensurePvhVmlinux(kernel: Kernel, onProgress?: ProgressFn): Promise<string | undefined> {
  const out = path.join(cacheRoot(), 'vmlinux', `${kernel.package}_${kernel.packageVersion}${kernel.variant ? `-${kernel.variant}` : ''}.elf`);
  const none = `${out}.none`;
  if (await exists(out)) return out;
  if (await exists(none)) return undefined;
  onProgress?.(`unpacking vmlinux of ${kernel.version} for PVH boot`);
  const elf = await unpackBzImage(kernel.vmlinuz);
  if (!elf || !hasPvhNote(elf)) {
    await writeFileAtomic(none, '');
    return undefined;
  }
  await writeFileAtomic(out, elf);
  return out;
}

/** The decompressed payload of a bzImage (an ELF vmlinux), or undefined for unknown formats. */
async function unpackBzImage(file: string): Promise<Buffer | undefined> {
  const img = await fs.readFile(file);
  if (img.toString('latin1', 0x202, 0x206) !== 'HdrS') return undefined;
  const setupSects = img[0x1f1] || 4;
  const payloadOffset = img.readUInt32LE(0x248);
  const payloadLength = img.readUInt32LE(0x24c);
  const start = (setupSects + 1) * 512 + payloadOffset;
  // The payload is `compressed vmlinux` + the uncompressed size as le32.
  const payload = img.subarray(start, start + payloadLength);
  const size = payload.readUInt32LE(payload.length - 4);
  const data = payload.subarray(0, payload.length - 4);
  let elf: Buffer;
  if (data[0] === 0x1f && data[1] === 0x8b) elf = gunzipSync(data);
  else if (data.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) {
    elf = (await execRaw('xz', ['-dc', '--single-stream'], { input: data, what: `unpacking ${path.basename(file)} (xz)` })).stdout;
  } else if (data.readUInt32LE(0) === 0xfd2fb528) {
    elf = (await execRaw('zstd', ['-dcq'], { input: data, what: `unpacking ${path.basename(file)} (zstd)` })).stdout;
  } else return undefined;
  if (elf.length !== size || elf.readUInt32BE(0) !== 0x7f454c46) return undefined;
  return elf;
}

/** True if an ELF64 image has a "Xen" PT_NOTE of type XEN_ELFNOTE_PHYS32_ENTRY. */
function hasPvhNote(elf: Buffer): boolean {
  const phoff = Number(elf.readBigUInt64LE(0x20));
  const phentsize = elf.readUInt16LE(0x36);
  const phnum = elf.readUInt16LE(0x38);
  for (let i = 0; i < phnum; i++) {
    const ph = phoff + i * phentsize;
    if (elf.readUInt32LE(ph) !== 4 /* PT_NOTE */) continue;
    let at = Number(elf.readBigUInt64LE(ph + 0x08));
    const end = at + Number(elf.readBigUInt64LE(ph + 0x20));
    while (at + 12 <= end) {
      const namesz = elf.readUInt32LE(at);
      const descsz = elf.readUInt32LE(at + 4);
      const type = elf.readUInt32LE(at + 8);
      const name = elf.toString('latin1', at + 12, at + 12 + namesz).replace(/\0+$/, '');
      if (name === 'Xen' && type === XEN_ELFNOTE_PHYS32_ENTRY) return true;
      at += 12 + align4(namesz) + align4(descsz);
    }
  }
  return false;
}

function align4(n: number): number {
  return (n + 3) & ~3;
}
