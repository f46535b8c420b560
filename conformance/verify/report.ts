/** Presenting a {@link VerifyResult}: a table for people, Markdown for reports, JSON for machines. */
import type { VerifyResult } from './verify.js';

function pad(cells: readonly string[][], right: ReadonlySet<number>): string[] {
  const widths = cells[0].map((_, i) => Math.max(...cells.map((r) => r[i].length)));
  return cells.map((r) => r.map((c, i) => (right.has(i) ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd());
}

function headerColumns(r: VerifyResult): string[] {
  const names: string[] = [];
  for (const a of r.abis) for (const h of a.headers) if (!names.includes(h.header)) names.push(h.header);
  return names;
}

function rows(r: VerifyResult): string[][] {
  const names = headerColumns(r);
  const out = [['ABI', 'checks', 'passed', 'failed', ...names.map((n) => `${n} checks/failed`)]];
  for (const a of r.abis) {
    out.push([a.abi, String(a.checks), String(a.passed), String(a.failed), ...names.map((n) => {
      const h = a.headers.find((x) => x.header === n);
      return h ? `${h.checks}/${h.failed}` : '-';
    })]);
  }
  out.push(['total', String(r.checks), String(r.passed), String(r.failed), ...names.map((n) => {
    const hs = r.abis.flatMap((a) => a.headers.filter((x) => x.header === n));
    return `${hs.reduce((s, h) => s + h.checks, 0)}/${hs.reduce((s, h) => s + h.failed, 0)}`;
  })]);
  return out;
}

/** A plain-text summary: what was checked, a table per ABI, and every mismatch. */
export function formatText(r: VerifyResult): string {
  const lines: string[] = [];
  for (const b of r.bindings) lines.push(`${b.header} ${b.version} (sha256 ${b.sha256.slice(0, 16)}…): bindings ${b.dir} (${b.loaded}), header ${b.headerPath}`);
  lines.push('');
  const t = rows(r);
  lines.push(...pad(t, new Set(t[0].map((_, i) => i).filter((i) => i > 0))));
  lines.push('');
  if (r.ok) {
    lines.push(`verify: all ${r.checks} checks passed on ${r.abis.length} ABI(s) in ${(r.elapsedMs / 1000).toFixed(1)} s`);
  } else {
    lines.push(`verify: ${r.failed} mismatch(es) in ${r.checks} checks (${Object.entries(r.byKind).map(([k, n]) => `${k} ${n}`).join(', ')}):`);
    for (const m of r.mismatches) lines.push(`  - ${m.header}: ${m.message}`);
  }
  return lines.join('\n') + '\n';
}

/** A Markdown report. */
export function formatMarkdown(r: VerifyResult): string {
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  const lines = ['# vfio-uapi verify', ''];
  lines.push(r.ok
    ? `**All ${r.checks} checks passed** on ${r.abis.length} ABI(s) (${(r.elapsedMs / 1000).toFixed(1)} s).`
    : `**${r.failed} mismatch(es)** in ${r.checks} checks on ${r.abis.length} ABI(s) (${(r.elapsedMs / 1000).toFixed(1)} s).`);
  lines.push('', '## Bindings', '', '| header | version | sha256 | bindings | header file | ABIs |', '|---|---|---|---|---|---|');
  for (const b of r.bindings) {
    lines.push(`| ${esc(b.header)} | ${esc(b.version)} | \`${b.sha256.slice(0, 16)}…\` | \`${esc(b.dir)}\` (${b.loaded}) | \`${esc(b.headerPath)}\` | ${b.abis.length} |`);
  }
  const t = rows(r);
  lines.push('', '## Checks per ABI', '', `| ${t[0].join(' | ')} |`, `|${t[0].map((_, i) => (i ? '---:' : '---')).join('|')}|`);
  for (const row of t.slice(1)) lines.push(`| ${row.join(' | ')} |`);
  lines.push('', '## Mismatches', '');
  if (r.ok) lines.push('None.');
  else {
    lines.push('| ABI | header | kind | subject | bindings | clang | message |', '|---|---|---|---|---|---|---|');
    for (const m of r.mismatches) {
      lines.push(`| ${m.abi} | ${esc(m.header)} | ${m.kind} | \`${esc(m.subject)}\` | ${esc(String(m.bindings ?? ''))} | ${esc(String(m.clang ?? ''))} | ${esc(m.message)} |`);
    }
  }
  lines.push('', 'Each ABI compiles one C translation unit per header with clang; values come from the object file (no code runs). '
    + 'Checks: constants, ioctl numbers, record sizes and alignments, field offsets, sizes, element counts and signedness, '
    + 'flexible arrays, bit-fields, and for every codec: decoding a C-initialised object field by field, and encoding it back to C\'s bytes.');
  return lines.join('\n') + '\n';
}

/** The version of the `verify --json` shape; schemas/verify.schema.json describes it. */
export const VERIFY_SCHEMA_VERSION = 1;

/** JSON (bigints as strings), with the shape's version first. */
export function formatJson(r: VerifyResult): string {
  return JSON.stringify({ schema_version: VERIFY_SCHEMA_VERSION, ...r }, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2) + '\n';
}
