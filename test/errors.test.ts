/** Bad input gets a clear error at file:line:col, exit 1, and nothing on stdout. */
import { describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { HeaderError } from '../generator/errors.js';
import { parseText, writeHeaders, layoutOf } from './helpers.js';

function errorOf(text: string, abi = 'x86_64'): HeaderError {
  try {
    layoutOf(text, abi);
  } catch (e) {
    expect(e).toBeInstanceOf(HeaderError);
    return e as HeaderError;
  }
  throw new Error('expected an error');
}

describe('header errors', () => {
  it('a syntax error names the line and column', () => {
    const e = errorOf('struct ok { int a; };\nstruct bad { int a b; };\n');
    expect(e.loc.line).toBe(2);
    expect(e.message).toMatch(/test\.h:2:\d+: error: syntax error/);
  });
  it('an unknown type', () => {
    const e = errorOf('struct s {\n\t__u32 a;\n\tmystery_t b;\n};\n');
    expect(e.message).toMatch(/test\.h:3:2: error: unknown type name 'mystery_t'/);
  });
  it('an incomplete member type', () => {
    expect(errorOf('struct fwd;\nstruct s { struct fwd f; };').message).toMatch(/struct fwd is incomplete/);
  });
  it('an attribute that could change the layout', () => {
    expect(errorOf('struct s { int a __attribute__((mode(DI))); };').message).toMatch(/:1:\d+: error: unsupported attribute 'mode'/);
  });
  it('a missing include', () => {
    expect(errorOf('\n#include <linux/nowhere.h>\n').message).toMatch(/test\.h:2:2: error: cannot find <linux\/nowhere\.h>/);
  });
  it('unterminated conditionals and comments', () => {
    expect(errorOf('#ifdef X\nstruct s { int a; };\n').message).toMatch(/test\.h:1:2: error: unterminated conditional/);
    expect(errorOf('struct s { int a; }; /* open').message).toMatch(/test\.h:1:22: error: unterminated \/\* comment/);
  });
  it('a flexible array that is not last', () => {
    expect(errorOf('struct s { int n; int d[]; int after; };').message).toMatch(/flexible array member 'd' is not at the end/);
  });
  it('parses a valid header without complaint', () => {
    expect(() => parseText('struct fine { __u32 a; };')).not.toThrow();
  });
});

describe('CLI exit codes', () => {
  const cli = join(import.meta.dirname, '..', 'dist', 'bin', 'vfio-uapi.js');
  it.skipIf(!existsSync(cli))('layout on a broken header: exit 1, the location on stderr, nothing on stdout', () => {
    const bad = writeHeaders({ 'bad.h': 'struct s {\n\tint a\n};\n' });
    const r = spawnSync(process.execPath, [cli, 'layout', '--header', bad, '--abi', 'x86_64', '--json'], { encoding: 'utf8' });
    expect(r.status).toBe(3);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/bad\.h:\d+:\d+: error:/);
  });
  it.skipIf(!existsSync(cli))('an unknown ABI lists the valid names', () => {
    const ok = writeHeaders({ 'ok.h': 'struct s { int a; };' });
    const r = spawnSync(process.execPath, [cli, 'layout', '--header', ok, '--abi', 'vax'], { encoding: 'utf8' });
    expect(r.status).toBe(3);
    expect(r.stderr).toMatch(/unknown ABI 'vax'.*x86_64/);
  });
  it.skipIf(!existsSync(cli))('layout --json has the documented shape', () => {
    const ok = writeHeaders({ 'ok.h': 'struct s { __u32 a; };\n#define K (1 << 31)\n' });
    const out = JSON.parse(execFileSync(process.execPath, [cli, 'layout', '--header', ok, '--abi', 'x86_64', '--json'], { encoding: 'utf8' }));
    expect(out).toEqual({ schema_version: 2, header: ok, abi: 'x86_64', constants: { K: -2147483648 }, records: { 'struct s': { size: 4, align: 4, fields: { a: 0 } } } });
  });
});
