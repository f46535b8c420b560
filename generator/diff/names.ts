/**
 * Name similarity for rename detection: `VFIO_DEVICE_STATE_RUNNING` and
 * `VFIO_DEVICE_STATE_V1_RUNNING`, `VFIO_REGION_TYPE_MIGRATION` and
 * `VFIO_REGION_TYPE_MIGRATION_DEPRECATED`, or a fixed typo, are similar;
 * `VFIO_PCI_BAR0_REGION_INDEX` and `VFIO_DEVICE_FLAGS_RESET` are not.
 */

/** Levenshtein distance of two strings. */
function levenshtein(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}

/** Two words are near each other when they differ by a typo-sized edit. */
function nearWords(a: string, b: string): boolean {
  return levenshtein(a, b) <= (Math.min(a.length, b.length) >= 4 ? 2 : 1);
}

/** The most words two names may differ by and still be a rename. */
export const MAX_RENAME_DISTANCE = 2;

/**
 * How far apart two C names are, in words (split at `_`): the shorter name's
 * words must all appear, in order, in the longer one, except that a word may be
 * changed by a typo-sized edit; each word inserted or changed counts 1. Returns
 * undefined when the names are not similar: they must share their first word,
 * have at least two words each, and be at most {@link MAX_RENAME_DISTANCE} apart.
 * (So `T_LIMIT` and `T_WIDTH` are unrelated, though one word each.)
 */
export function nameDistance(a: string, b: string): number | undefined {
  let x = a.split('_').filter(Boolean);
  let y = b.split('_').filter(Boolean);
  if (a === b || x.length < 2 || y.length < 2 || x[0] !== y[0]) return undefined;
  if (x.length > y.length) [x, y] = [y, x];
  // d[i][j]: cost of turning x[0..i) into y[0..j) by inserting words of y and changing words near-alike.
  const INF = 1e9;
  let prev = Array.from({ length: y.length + 1 }, (_, j) => j);
  for (let i = 1; i <= x.length; i++) {
    const cur = [INF];
    for (let j = 1; j <= y.length; j++) {
      const keep = x[i - 1] === y[j - 1] ? 0 : nearWords(x[i - 1]!, y[j - 1]!) ? 1 : INF;
      cur[j] = Math.min(cur[j - 1]! + 1, prev[j - 1]! + keep);
    }
    prev = cur;
  }
  const d = prev[y.length]!;
  return d <= MAX_RENAME_DISTANCE ? d : undefined;
}
