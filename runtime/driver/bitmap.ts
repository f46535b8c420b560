/** Dirty-page bitmaps as the kernel writes them (VFIO type1 and iommufd alike). */

import type { AnonymousMemory } from './memory.js';

/**
 * Copies `words` 64-bit words of a bitmap the kernel wrote into `memory`
 * (page `i` is bit `i % 64` of word `floor(i / 64)`), and counts the set bits.
 */
export function readBitmap(memory: AnonymousMemory, words: number): { words: BigUint64Array; dirtyPages: number } {
  const copy = new BigUint64Array(words);
  new Uint8Array(copy.buffer).set(new Uint8Array(memory.buffer, 0, words * 8));
  let dirtyPages = 0;
  for (const word of copy) for (let w = word; w !== 0n; w &= w - 1n) dirtyPages++;
  return { words: copy, dirtyPages };
}
