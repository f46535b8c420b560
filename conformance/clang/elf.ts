/**
 * A minimal reader for ELF relocatable objects (ELF32/ELF64, either byte order),
 * enough to read the initial bytes of the data objects a C file defines, and a
 * helper that compiles C for an ABI with clang and returns those bytes.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Abi } from '../../generator/abi/abis.js';
import { clangArgs, findClang, parseErrors, runClang, type ClangBinary, type ClangDiagnostic } from './toolchain.js';
import { makeTempDir, removeTempDir } from '../cleanup.js';

const SHT_NOBITS = 8;
const SHT_SYMTAB = 2;
const SHN_UNDEF = 0;
const SHN_LORESERVE = 0xff00;
const SHN_XINDEX = 0xffff;
const STT_OBJECT = 1;

/** One section header. */
export interface ElfSection {
  readonly name: string;
  readonly type: number;
  readonly offset: number;
  readonly size: number;
  readonly link: number;
  readonly entsize: number;
}

/** One `.symtab` entry. */
export interface ElfSymbol {
  readonly name: string;
  /** Offset within its section (relocatable objects). */
  readonly value: number;
  readonly size: number;
  /** STT_* (1 = object, 2 = function, ...). */
  readonly type: number;
  /** STB_* (0 = local, 1 = global, 2 = weak). */
  readonly bind: number;
  /** Section index; 0 = undefined, >= 0xff00 = special (ABS, COMMON, ...). */
  readonly shndx: number;
}

/** A parsed ELF file. */
export class ElfFile {
  readonly is64: boolean;
  readonly littleEndian: boolean;
  readonly machine: number;
  readonly sections: readonly ElfSection[];
  readonly symbols: readonly ElfSymbol[];
  private readonly bytes: Uint8Array;

  /** Parses `bytes`; throws on anything that is not a well-formed ELF file. */
  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
    if (bytes.length < 16 || bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46) {
      throw new Error('not an ELF file');
    }
    const cls = bytes[4];
    const data = bytes[5];
    if (cls !== 1 && cls !== 2) throw new Error(`bad ELF class ${cls}`);
    if (data !== 1 && data !== 2) throw new Error(`bad ELF data encoding ${data}`);
    this.is64 = cls === 2;
    this.littleEndian = data === 1;
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const le = this.littleEndian;
    const u16 = (o: number) => view.getUint16(o, le);
    const u32 = (o: number) => view.getUint32(o, le);
    const addr = this.is64 ? (o: number) => Number(view.getBigUint64(o, le)) : u32;
    const w = this.is64 ? 8 : 4;

    this.machine = u16(18);
    // e_shoff follows e_entry and e_phoff; the 16-bit fields follow e_flags and e_ehsize.
    const shoff = addr(24 + 2 * w);
    const tail = 24 + 3 * w + 4 + 2; // e_phentsize
    const shentsize = u16(tail + 4);
    let shnum = u16(tail + 6);
    let shstrndx = u16(tail + 8);
    if (shoff === 0) throw new Error('ELF file has no section headers');
    const shdr = (i: number) => {
      const o = shoff + i * shentsize;
      if (o + shentsize > bytes.length) throw new Error(`ELF section header ${i} lies outside the file`);
      return this.is64
        ? { name: u32(o), type: u32(o + 4), offset: addr(o + 24), size: addr(o + 32), link: u32(o + 40), entsize: addr(o + 56) }
        : { name: u32(o), type: u32(o + 4), offset: u32(o + 16), size: u32(o + 20), link: u32(o + 24), entsize: u32(o + 36) };
    };
    // Extended numbering: the real counts live in section header 0.
    if (shnum === 0) shnum = shdr(0).size;
    if (shstrndx === SHN_XINDEX) shstrndx = shdr(0).link;
    const raw = Array.from({ length: shnum }, (_, i) => shdr(i));
    const str = (sec: { offset: number; size: number }, off: number) => {
      const start = sec.offset + off;
      let end = start;
      const limit = sec.offset + sec.size;
      while (end < limit && bytes[end] !== 0) end++;
      return new TextDecoder().decode(bytes.subarray(start, end));
    };
    const shstr = raw[shstrndx];
    this.sections = raw.map((s) => ({ ...s, name: shstr ? str(shstr, s.name) : '' }));

    const symbols: ElfSymbol[] = [];
    for (const symtab of this.sections.filter((s) => s.type === SHT_SYMTAB)) {
      const strtab = this.sections[symtab.link];
      const entsize = symtab.entsize || (this.is64 ? 24 : 16);
      for (let o = symtab.offset; o + entsize <= symtab.offset + symtab.size; o += entsize) {
        const sym = this.is64
          ? { name: u32(o), info: bytes[o + 4], shndx: u16(o + 6), value: addr(o + 8), size: addr(o + 16) }
          : { name: u32(o), value: u32(o + 4), size: u32(o + 8), info: bytes[o + 12], shndx: u16(o + 14) };
        symbols.push({
          name: strtab ? str(strtab, sym.name) : '',
          value: sym.value,
          size: sym.size,
          type: sym.info & 0xf,
          bind: sym.info >> 4,
          shndx: sym.shndx,
        });
      }
    }
    this.symbols = symbols;
  }

  /** The symbol called `name` (the first one, if several), or undefined. */
  symbol(name: string): ElfSymbol | undefined {
    return this.symbols.find((s) => s.name === name);
  }

  /**
   * The initial bytes of a defined data symbol: read from its section, or zeros
   * for a NOBITS section such as `.bss`. Relocations are not applied.
   * @throws if the symbol is undefined, special (ABS/COMMON) or out of bounds.
   */
  symbolBytes(sym: ElfSymbol | string): Uint8Array {
    const s = typeof sym === 'string' ? this.symbol(sym) : sym;
    if (!s) throw new Error(`no symbol '${sym as string}'`);
    if (s.shndx === SHN_UNDEF || s.shndx >= SHN_LORESERVE) {
      throw new Error(`symbol '${s.name}' is not defined in a section (shndx ${s.shndx})`);
    }
    const sec = this.sections[s.shndx];
    if (!sec) throw new Error(`symbol '${s.name}' refers to missing section ${s.shndx}`);
    if (s.value + s.size > sec.size) throw new Error(`symbol '${s.name}' extends past the end of ${sec.name}`);
    if (sec.type === SHT_NOBITS) return new Uint8Array(s.size);
    const start = sec.offset + s.value;
    return this.bytes.slice(start, start + s.size);
  }

  /** Every defined global (or weak) data object symbol, with its bytes. */
  dataObjects(): Map<string, Uint8Array> {
    const out = new Map<string, Uint8Array>();
    for (const s of this.symbols) {
      if (s.type !== STT_OBJECT || s.bind === 0 || s.shndx === SHN_UNDEF || s.shndx >= SHN_LORESERVE) continue;
      out.set(s.name, this.symbolBytes(s));
    }
    return out;
  }
}

/** Options of {@link compileObject}. */
export interface CompileOptions {
  /** Include root of the UAPI tree (`.../usr/include`). */
  includeRoot: string;
  /** Directories searched before the tree (`-I`). */
  extraIncludeDirs?: readonly string[];
  /** `-isystem` dirs after the include root (clang's headers, the ABI's glibc). */
  systemIncludeDirs?: readonly string[];
  /** More clang flags (e.g. `-D...`). */
  extraArgs?: readonly string[];
  /** The clang to use; default {@link findClang}(abi). */
  clang?: ClangBinary;
}

/** clang rejected a C source; carries its diagnostics. */
export class CompileError extends Error {
  /** Path the source had while compiling (diagnostics for it carry this file name). */
  readonly sourcePath: string;
  readonly errors: readonly ClangDiagnostic[];
  readonly stderr: string;
  constructor(abi: Abi, sourcePath: string, stderr: string) {
    const errors = parseErrors(stderr);
    const first = errors.slice(0, 5).map((e) => `  ${e.file}:${e.line}:${e.column}: ${e.message}`).join('\n');
    super(`clang failed for ${abi.name} (${abi.clangTarget}) with ${errors.length} error(s):\n${first || stderr.trim()}`);
    this.name = 'CompileError';
    this.sourcePath = sourcePath;
    this.errors = errors;
    this.stderr = stderr;
  }
}

/**
 * Compiles `cSource` for `abi` (`clang -c -O0 -fno-common` plus {@link clangArgs})
 * and returns the initial bytes of every global data object it defines, in the
 * ABI's byte order. Temporary files are always removed.
 * @throws CompileError when clang reports errors; MissingPrerequisite without clang.
 */
export async function compileObject(cSource: string, abi: Abi, opts: CompileOptions): Promise<{ symbols: Map<string, Uint8Array> }> {
  const clang = opts.clang ?? findClang(abi);
  const dir = await makeTempDir('vfio-uapi-cc-');
  try {
    const src = path.join(dir, 'tu.c');
    const obj = path.join(dir, 'tu.o');
    await writeFile(src, cSource);
    const r = await runClang(clang, [
      ...clangArgs(abi, opts.includeRoot, opts.extraIncludeDirs, opts.systemIncludeDirs),
      '-c', '-O0', '-fno-common',
      // clang 14 has no default integrated assembler for SPARC; objects are all we need.
      '-fintegrated-as',
      '-ferror-limit=0', '-fno-caret-diagnostics', '-fno-color-diagnostics',
      ...(opts.extraArgs ?? []),
      src, '-o', obj,
    ]);
    if (r.status !== 0) throw new CompileError(abi, src, r.stderr);
    return { symbols: new ElfFile(await readFile(obj)).dataObjects() };
  } finally {
    await removeTempDir(dir);
  }
}

/** Reads an unsigned integer of `bytes.length` bytes in the given byte order. */
export function readUnsigned(bytes: Uint8Array, endian: 'little' | 'big'): bigint {
  let v = 0n;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[endian === 'little' ? bytes.length - 1 - i : i];
    v = (v << 8n) | BigInt(b);
  }
  return v;
}
