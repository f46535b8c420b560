/**
 * Hand-edited copies of the generated x86_64 codecs of the three benchmarked
 * structs, one emitter change each (see each file's header), for
 * `npm run bench -- --variants`. Only the paths a change touches differ from
 * `copy` (encode, encodeInto, decodeFlex; decode for E). Each variant is its own module so that V8
 * compiles (and collects type feedback for) each one separately, as it would
 * for emitted code. Nothing here is used by the bindings.
 */
import type { Codec, FlexCodec } from '../../runtime/codec.js';
import type { VfioIommuType1DmaMap, VfioIrqSet, VfioRegionInfo } from '../../generated/vfio/types.js';
import * as copy from './copy.js';
import * as aView from './a-view.js';
import * as bTotal from './b-total.js';
import * as ab from './ab.js';
import * as dBytes from './d-bytes.js';
import * as all from './all.js';
import * as allE from './all-e.js';
import * as allS from './all-s.js';
import * as allNocheck from './all-nocheck.js';

export interface EditedCodecs {
  readonly name: string;
  readonly description: string;
  readonly region: Codec<VfioRegionInfo>;
  readonly irq: FlexCodec<VfioIrqSet, Uint8Array>;
  readonly dma: Codec<VfioIommuType1DmaMap>;
}

export const EDITS: readonly EditedCodecs[] = [copy, aView, bTotal, ab, dBytes, all, allE, allS, allNocheck];
