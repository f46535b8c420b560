/**
 * Renderings of a {@link HeaderDiff}: the JSON document, a readable text
 * listing grouped by severity, and a Markdown changelog section.
 */
import type { Change, HeaderDiff, Severity } from './model.js';

/** The `diff --json` document. */
export interface DiffJson {
  /** The version of this shape (schemas/diff.schema.json). */
  schema_version: number;
  old: string;
  new: string;
  changes: { kind: string; what: string; name: string; abis: string[]; severity: string; detail: string }[];
}

/** The version of the `diff --json` shape; schemas/diff.schema.json describes it. */
export const DIFF_SCHEMA_VERSION = 1;

/** The JSON document of a diff; `old` and `new` label the headers (their paths as given). */
export function diffJson(diff: HeaderDiff, oldLabel: string, newLabel: string): DiffJson {
  return {
    schema_version: DIFF_SCHEMA_VERSION,
    old: oldLabel,
    new: newLabel,
    changes: diff.changes.map((c) => ({ kind: c.kind, what: c.what, name: c.name, abis: [...c.abis], severity: c.severity, detail: c.detail })),
  };
}

/**
 * The JSON document as one line, in the documented spelling: keys in the order
 * `schema_version, old, new, changes` and `kind, what, name, abis, severity, detail`, with `": "`
 * and `", "` separators.
 */
export function formatDiffJson(doc: DiffJson): string {
  const value = (v: unknown): string => {
    if (Array.isArray(v)) return `[${v.map(value).join(', ')}]`;
    if (v !== null && typeof v === 'object') return `{${Object.entries(v).map(([k, x]) => `${JSON.stringify(k)}: ${value(x)}`).join(', ')}}`;
    return JSON.stringify(v);
  };
  return value(doc);
}

const SEVERITIES: readonly Severity[] = ['breaking', 'compatible'];

function abiText(c: Change): string {
  return c.abis.length === 1 && c.abis[0] === 'all' ? 'all ABIs' : c.abis.join(', ');
}

function summary(diff: HeaderDiff): string {
  const n = (s: Severity) => diff.changes.filter((c) => c.severity === s).length;
  const abis = diff.abis.length === 1 ? `1 ABI (${diff.abis[0]})` : `${diff.abis.length} ABIs`;
  return `${n('breaking')} breaking, ${n('compatible')} compatible change${diff.changes.length === 1 ? '' : 's'} on ${abis}`;
}

/** A readable listing: a summary line, then the breaking and the compatible changes. */
export function diffText(diff: HeaderDiff, oldLabel: string, newLabel: string): string {
  const lines = [`${oldLabel} -> ${newLabel}: ${summary(diff)}`];
  for (const severity of SEVERITIES) {
    const list = diff.changes.filter((c) => c.severity === severity);
    if (list.length === 0) continue;
    lines.push('', `${severity} (${list.length}):`);
    const kindWidth = Math.max(...list.map((c) => c.kind.length));
    const whatWidth = Math.max(...list.map((c) => c.what.length));
    for (const c of list) {
      lines.push(`  ${c.kind.padEnd(kindWidth)}  ${c.what.padEnd(whatWidth)}  ${c.name}  [${abiText(c)}]`);
      lines.push(`  ${' '.repeat(kindWidth + whatWidth + 4)}${c.detail}`);
    }
  }
  if (diff.changes.length === 0) lines.push('', 'no ABI changes');
  return `${lines.join('\n')}\n`;
}

/** Options of {@link diffMarkdown}. */
export interface MarkdownOptions {
  /** Heading level of the section's title (default 2). */
  readonly level?: number;
  /** The title (default: `old -> new`). */
  readonly title?: string;
}

const escapeCell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** A Markdown changelog section: a title, a summary, and one table per severity. */
export function diffMarkdown(diff: HeaderDiff, oldLabel: string, newLabel: string, options: MarkdownOptions = {}): string {
  const level = options.level ?? 2;
  const h = (extra: number) => '#'.repeat(level + extra);
  const out = [`${h(0)} ${options.title ?? `\`${oldLabel}\` → \`${newLabel}\``}`, '', `${summary(diff)}.`];
  if (diff.changes.length === 0) out.push('', 'No ABI changes.');
  for (const severity of SEVERITIES) {
    const list = diff.changes.filter((c) => c.severity === severity);
    if (list.length === 0) continue;
    out.push('', `${h(1)} ${severity === 'breaking' ? 'Breaking' : 'Compatible'} (${list.length})`, '');
    out.push('| change | what | name | ABIs | detail |', '|---|---|---|---|---|');
    for (const c of list) out.push(`| ${c.kind} | ${c.what} | \`${c.name}\` | ${escapeCell(abiText(c))} | ${escapeCell(c.detail)} |`);
  }
  return `${out.join('\n')}\n`;
}
