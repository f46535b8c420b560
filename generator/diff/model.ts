/** The data model of an ABI diff between two versions of a header. */

/** What kind of change. */
export type ChangeKind = 'added' | 'removed' | 'changed';

/** What changed. */
export type ChangeWhat = 'constant' | 'record' | 'field' | 'ioctl' | 'flag';

/** Whether code built against the old header keeps working with the new one. */
export type Severity = 'compatible' | 'breaking';

/** One change, on a set of ABIs. */
export interface Change {
  readonly kind: ChangeKind;
  readonly what: ChangeWhat;
  /** The C name; fields as `struct.field` (the struct's tag without `struct`). */
  readonly name: string;
  /** `['all']` when the change is the same on every ABI compared, else the ABIs it applies to, in table order. */
  readonly abis: readonly string[];
  readonly severity: Severity;
  /** Old -> new, and why it has this severity. */
  readonly detail: string;
}

/** The diff of two headers. */
export interface HeaderDiff {
  /** The ABIs compared, in table order. */
  readonly abis: readonly string[];
  /** Every change, in a deterministic order: records each followed by its fields, then ioctls, flags and constants, by name. */
  readonly changes: readonly Change[];
}

/** Listing order of `what`: records with their fields first, then ioctls, flags, and other constants. */
export const WHAT_ORDER: readonly ChangeWhat[] = ['record', 'field', 'ioctl', 'flag', 'constant'];

/** Listing order of `kind`. */
export const KIND_ORDER: readonly ChangeKind[] = ['removed', 'changed', 'added'];
