/**
 * `npm run bench`: decode/encode throughput of the generated codecs (the running
 * ABI's, from generated/vfio) against a hand-written DataView codec and koffi's
 * `decode`/`encode`, for `vfio_region_info`, `vfio_irq_set` with 4 eventfds
 * (argsz = argszFor(16), 16 data bytes) and `vfio_iommu_type1_dma_map`.
 *
 * Operations:
 * - decode:     bytes -> a new object (vfio_irq_set: the header and its data bytes)
 * - encode:     object -> a new buffer, ready for an ioctl (its `.buffer` is
 *               touched, as passing it to a native call does). All three take
 *               it from the runtime's `allocate` (a slab: a fresh ArrayBuffer
 *               costs ~0.4 µs, which would swamp the encoding being compared)
 * - encodeInto: object -> an existing buffer (koffi.encode's natural use)
 *
 * Every implementation is first checked to give the generated codecs' bytes and
 * values; then every measurement runs in a fresh process (see "orchestration").
 *
 * Option `--quick`: one process per candidate, short rounds.
 */
import { execFileSync } from 'node:child_process';
import { endianness } from 'node:os';
import { fileURLToPath } from 'node:url';
import * as vfio from 'vfio-uapi/vfio';
import type { VfioIommuType1DmaMap, VfioIrqSet, VfioRegionInfo } from 'vfio-uapi/vfio';
import type { Codec } from 'vfio-uapi/codegen-v1';
import { allocate } from 'vfio-uapi/codegen-v1';
import * as hand from './handwritten.js';
import { koffi, koffiTypes } from './koffi.js';
import { CLOCK, formatOps, measure, ring, totalChecksum, type Measurement } from './harness.js';

const args = new Set(process.argv.slice(2));
const QUICK = args.has('--quick');
const OPTS = QUICK ? { warmupMs: 150, roundMs: 30, rounds: 5 } : { warmupMs: 300, roundMs: 50, rounds: 9 };

// ---- inputs: the same objects and buffers for every implementation ----------------------------

const K = 64; // distinct inputs, cycled (a power of two)
const IRQ_DATA = 16;

const regionInputs: VfioRegionInfo[] = Array.from({ length: K }, (_, i) => ({
  argsz: 32,
  flags: (i % 15) + 1,
  index: i % 9,
  cap_offset: 0,
  size: BigInt(0x1000 * (i + 1)),
  offset: BigInt(i % 9) << 40n, // vfio-pci: VFIO_PCI_INDEX_TO_OFFSET(index)
}));

const irqInputs: VfioIrqSet[] = Array.from({ length: K }, (_, i) => ({
  argsz: vfio.vfio_irq_set.argszFor(IRQ_DATA),
  flags: vfio.VFIO_IRQ_SET_DATA_EVENTFD | vfio.VFIO_IRQ_SET_ACTION_TRIGGER,
  index: vfio.VFIO_PCI_MSIX_IRQ_INDEX,
  start: i % 4,
  count: 4,
  data: new Uint8Array(Int32Array.of(10 + i, 11 + i, 12 + i, -1).buffer), // 4 s32 eventfds, host order
}));

const dmaInputs: VfioIommuType1DmaMap[] = Array.from({ length: K }, (_, i) => ({
  argsz: 32,
  flags: vfio.VFIO_DMA_MAP_FLAG_READ | vfio.VFIO_DMA_MAP_FLAG_WRITE,
  vaddr: 0x7f00_0000_0000n + BigInt(i) * 0x20_0000n,
  iova: BigInt(i) * 0x20_0000n,
  size: 0x20_0000n,
}));

const regionBytes = regionInputs.map((x) => vfio.vfio_region_info.encode(x));
const irqBytes = irqInputs.map((x) => vfio.vfio_irq_set.encode(x));
const dmaBytes = dmaInputs.map((x) => vfio.vfio_iommu_type1_dma_map.encode(x));

const STRUCTS = [
  { key: 'region', label: 'vfio_region_info', inputs: regionInputs, bytes: regionBytes, outSize: 32 },
  { key: 'irq', label: 'vfio_irq_set+4 fds', inputs: irqInputs, bytes: irqBytes, outSize: 36 },
  { key: 'dma', label: 'vfio_iommu_type1_dma_map', inputs: dmaInputs, bytes: dmaBytes, outSize: 32 },
] as const;

// ---- candidates: one compiled loop per implementation and operation -----------------------------

/**
 * How one implementation performs one operation, as source: statements that
 * compute `r` from the input `x` (decode: bytes -> object; encode: object ->
 * new bytes; into: object -> the preallocated `out`/`view`), over the names
 * bound in `env`.
 */
interface OpSource { readonly code: string; readonly env: Readonly<Record<string, unknown>> }

type OpKind = 'decode' | 'encode' | 'into';

interface Impl {
  readonly name: string;
  /** The operation's source for one struct (`key`). */
  op(key: StructKey, kind: OpKind): OpSource;
}

type StructKey = 'region' | 'irq' | 'dma';

/**
 * The timed loop of one candidate, compiled with `new Function` from its own
 * source text, so that every candidate has its own bytecode, type feedback and
 * optimised code. (V8 shares feedback between closures of one function
 * literal: a loop or wrapper built by a shared factory would see every
 * implementation at one polymorphic call site and time none of them fairly.)
 * Results escape into `ring`; the loop returns a checksum.
 */
function compile(src: OpSource, kind: OpKind, inputs: readonly unknown[], out: Uint8Array): (n: number) => number {
  const use = kind === 'decode' ? 'ring[i & 1023] = r; s = (s + r.argsz) | 0;'
    : kind === 'encode' ? 'ring[i & 1023] = r; s = (s + r[0] + r.buffer.byteLength) | 0;'
    : 's = (s + out[(i & 7) + 4]) | 0;';
  const body = `return function ${kind}Loop(n) {
    let s = 0;
    for (let i = 0; i < n; i++) {
      const x = inputs[i & ${K - 1}];
      let r;
      ${src.code}
      ${use}
    }
    return s;
  };`;
  const names = ['inputs', 'ring', 'out', 'view', ...Object.keys(src.env)];
  const values = [inputs, ring, out, new DataView(out.buffer, out.byteOffset, out.byteLength), ...Object.values(src.env)];
  return new Function(...names, body)(...values) as (n: number) => number;
}

/** The generated codec API as a user calls it (also the hand-edited copies). */
function codecImpl(name: string, codecs: Record<StructKey, Codec<unknown>>): Impl {
  return {
    name,
    op(key, kind) {
      const env = { c: codecs[key] };
      if (kind === 'decode') {
        // vfio_irq_set: the fixed part, then the trailing eventfds (the rest of the buffer).
        return { code: key === 'irq' ? 'r = c.decode(x); r.data = c.decodeFlex(x);' : 'r = c.decode(x);', env };
      }
      if (kind === 'encode') return { code: 'r = c.encode(x);', env };
      return { code: 'c.encodeInto(view, 0, x);', env };
    },
  };
}

const generated = codecImpl('generated', { region: vfio.vfio_region_info, irq: vfio.vfio_irq_set, dma: vfio.vfio_iommu_type1_dma_map });

const HAND = {
  region: { decode: hand.decodeRegionInfo, encode: hand.encodeRegionInfo, into: hand.encodeRegionInfoInto },
  irq: { decode: hand.decodeIrqSet, encode: hand.encodeIrqSet, into: hand.encodeIrqSetInto },
  dma: { decode: hand.decodeDmaMap, encode: hand.encodeDmaMap, into: hand.encodeDmaMapInto },
};
const handwritten: Impl = {
  name: 'hand-written',
  op(key, kind) {
    const f = HAND[key];
    if (kind === 'decode') return { code: 'r = decode(x);', env: { decode: f.decode } };
    if (kind === 'encode') return { code: 'r = encode(x);', env: { encode: f.encode } };
    return { code: 'into(view, 0, x);', env: { into: f.into } };
  },
};

const KOFFI = { region: koffiTypes.vfio_region_info, irq: koffiTypes.vfio_irq_set_4, dma: koffiTypes.vfio_iommu_type1_dma_map };
const koffiImpl: Impl = {
  name: 'koffi',
  op(key, kind) {
    const env = { koffi, T: KOFFI[key], size: koffi.sizeof(KOFFI[key]) };
    if (kind === 'decode') return { code: 'r = koffi.decode(x, T);', env };
    if (kind === 'encode') return { code: 'r = allocate(size); koffi.encode(r, T, x);', env: { ...env, allocate } };
    return { code: 'koffi.encode(out, 0, T, x);', env };
  },
};

// ---- correctness cross-check before timing ------------------------------------------------------

function same(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** koffi decodes 64-bit integers below 2^53 as numbers; compare as bigints. */
function normalise(x: unknown): unknown {
  if (typeof x === 'number') return BigInt(x);
  if (x instanceof Uint8Array) return [...x].map(BigInt);
  if (x && typeof x === 'object') return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, normalise(v)]));
  return x;
}

/** Runs one operation once, through the same source as the timed loop. */
function once(impl: Impl, key: StructKey, kind: OpKind, x: unknown, out: Uint8Array): unknown {
  const src = impl.op(key, kind);
  const names = ['x', 'out', 'view', ...Object.keys(src.env)];
  const values = [x, out, new DataView(out.buffer, out.byteOffset, out.byteLength), ...Object.values(src.env)];
  return new Function(...names, `let r; ${src.code} return r;`)(...values);
}

const json = (x: unknown) => JSON.stringify(normalise(x), (_, v) => (typeof v === 'bigint' ? String(v) : v));

/** Every implementation gives the generated codecs' bytes and values, and the layouts agree, before anything is timed. */
function check(impls: readonly Impl[]): void {
  if (endianness() !== 'LE') throw new Error('the hand-written codecs are little-endian; this host is big-endian');
  const layouts: [string, Codec<unknown>][] = [['vfio_region_info', vfio.vfio_region_info], ['vfio_irq_set', vfio.vfio_irq_set], ['vfio_iommu_type1_dma_map', vfio.vfio_iommu_type1_dma_map]];
  for (const [name, codec] of layouts) {
    const want = hand.HANDWRITTEN_LAYOUT[name]!;
    const have = Object.fromEntries(codec.fields.map((f) => [f.path, f.offset]));
    if (codec.size !== want.size || JSON.stringify(have) !== JSON.stringify(want.fields)) {
      throw new Error(`${name} on ${vfio.ABI} is laid out differently from the hand-written codec (LP64 little-endian)`);
    }
  }
  if (koffi.sizeof(KOFFI.region) !== 32 || koffi.sizeof(KOFFI.irq) !== vfio.vfio_irq_set.argszFor(IRQ_DATA) || koffi.sizeof(KOFFI.dma) !== 32) {
    throw new Error('koffi struct sizes differ from the generated codecs');
  }
  for (const impl of impls) {
    for (const s of STRUCTS) {
      for (let i = 0; i < 4; i++) {
        const want = s.bytes[i]!;
        const enc = once(impl, s.key, 'encode', s.inputs[i], new Uint8Array(0)) as Uint8Array;
        if (!same(enc, want)) throw new Error(`${impl.name} ${s.key} encode differs from the generated bytes`);
        const out = new Uint8Array(want.length).fill(0xee);
        once(impl, s.key, 'into', s.inputs[i], out);
        if (!same(out, want)) throw new Error(`${impl.name} ${s.key} encodeInto differs from the generated bytes`);
        const dec = once(impl, s.key, 'decode', want, new Uint8Array(0));
        if (json(dec) !== json(s.inputs[i])) throw new Error(`${impl.name} ${s.key} decode differs from the input: ${json(dec)}`);
      }
    }
  }
}

// ---- run --------------------------------------------------------------------------------------------

const OPS = ['decode', 'encode', 'encodeInto'] as const;

// ---- orchestration: every measurement in a fresh process ------------------------------------------
//
// One V8 isolate per measurement: candidates timed in one process perturb each other (which
// one is optimised first, allocation-site and GC state), by up to 3x for the same code. The
// parent checks correctness and prints; each child times one candidate (warm-up, calibrated
// rounds, median) and prints JSON. Every candidate runs REPS times, the order of the
// implementations rotated each time; the figure is the median of the per-process medians.

const REPS = QUICK ? 1 : 5;

function allImpls(): Impl[] {
  return [generated, handwritten, koffiImpl];
}

/** In a child: time one candidate and print its measurement. */
function child(implName: string, key: StructKey, op: (typeof OPS)[number]): void {
  const impl = allImpls().find((i) => i.name === implName);
  const s = STRUCTS.find((x) => x.key === key);
  if (!impl || !s) throw new Error(`unknown candidate ${implName} ${key}`);
  const kind: OpKind = op === 'encodeInto' ? 'into' : op;
  const run = compile(impl.op(key, kind), kind, kind === 'decode' ? s.bytes : s.inputs, new Uint8Array(s.outSize));
  const [m] = measure([{ name: impl.name, run }], OPTS);
  process.stdout.write(`${JSON.stringify({ ...m, checksum: totalChecksum() })}\n`);
}

/** Runs a child for every rep of every implementation (rotated order); median ops/s per implementation. */
function timeRow(names: readonly string[], key: StructKey, op: (typeof OPS)[number]): Measurement[] {
  const per: number[][] = names.map(() => []);
  for (let r = 0; r < REPS; r++) {
    for (let k = 0; k < names.length; k++) {
      const i = (k + r) % names.length;
      const out = execFileSync(process.execPath, [fileURLToPath(import.meta.url), '--child', names[i]!, key, op, ...(QUICK ? ['--quick'] : [])], { encoding: 'utf8' });
      per[i]!.push((JSON.parse(out.trim().split('\n').pop()!) as Measurement).opsPerSec);
    }
  }
  return names.map((name, i) => {
    const xs = per[i]!;
    const s = [...xs].sort((a, b) => a - b);
    const med = s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
    return { name, opsPerSec: med, rounds: xs, spread: (Math.max(...xs) - Math.min(...xs)) / med };
  });
}

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}
function lpad(s: string, n: number): string {
  return s.length >= n ? s : ' '.repeat(n - s.length) + s;
}

function main(): void {
  check(allImpls());

  console.log(`vfio-uapi codec benchmark: node ${process.version}, ${process.arch}, generated ABI ${vfio.ABI}`);
  console.log(`ops/s: median over ${REPS} fresh process(es) of the median of ${OPTS.rounds} rounds (${CLOCK === 'cpu' ? 'process CPU time; VFIO_BENCH_CLOCK=wall for wall time' : 'wall time'})`);
  console.log('gen/hand = generated time / hand-written time (target <= 1.25); koffi/gen = koffi time / generated time (target >= 3)\n');
  console.log(`${pad('struct', 26)}${pad('op', 12)}${lpad('generated', 11)}${lpad('hand', 11)}${lpad('koffi', 11)}${lpad('gen/hand', 10)}${lpad('koffi/gen', 10)}  spread`);
  const misses: string[] = [];
  for (const s of STRUCTS) {
    for (const op of OPS) {
      const [g, h, k] = timeRow([generated.name, handwritten.name, koffiImpl.name], s.key, op) as [Measurement, Measurement, Measurement];
      const genHand = h.opsPerSec / g.opsPerSec;
      const koffiGen = g.opsPerSec / k.opsPerSec;
      const ok = genHand <= 1.25 && koffiGen >= 3;
      if (!ok) misses.push(`${s.label} ${op}`);
      const spread = Math.max(g.spread, h.spread, k.spread);
      console.log(`${pad(s.label, 26)}${pad(op, 12)}${lpad(formatOps(g.opsPerSec), 11)}${lpad(formatOps(h.opsPerSec), 11)}${lpad(formatOps(k.opsPerSec), 11)}${lpad(genHand.toFixed(2) + 'x', 10)}${lpad(koffiGen.toFixed(1) + 'x', 10)}  ${REPS > 1 ? `${(spread * 100).toFixed(0)}%` : '-'}${ok ? '' : '  MISS'}`);
    }
  }
  console.log(misses.length ? `\ntarget missed: ${misses.join('; ')}` : '\ntarget met everywhere');

}

const at = process.argv.indexOf('--child');
if (at >= 0) child(process.argv[at + 1]!, process.argv[at + 2] as StructKey, process.argv[at + 3] as (typeof OPS)[number]);
else main();
