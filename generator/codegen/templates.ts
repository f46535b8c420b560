/**
 * The one way generated files are framed: each kind of file is a Handlebars
 * template in templates/ (`<kind>.ts.hbs`; partials start with `_`) that gets
 * the provenance line, the import statements the printer tracked and the
 * printed body sections. The printer writes the code; the templates only frame it.
 */
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type HandlebarsNs from 'handlebars';
import { cacheDir, makeDirs, packageRoot } from '../paths.js';

const require = createRequire(import.meta.url);

/** The kinds of generated file, one template each. */
export type FileKind = 'types' | 'codecs' | 'codecs-group' | 'constants' | 'constants-group' | 'abi' | 'index';

/** What every template receives; `extra` adds the names its module doc uses (header, ABI list, ...). */
export interface FileView {
  readonly provenance: string;
  /** `import` statements, one a line. */
  readonly imports: readonly string[];
  /** Printed code, separated by blank lines in the file. */
  readonly sections: readonly string[];
  readonly [extra: string]: unknown;
}

let templates: Map<string, HandlebarsNs.TemplateDelegate> | undefined;

/**
 * The templates, compiled. Compiling them costs more than rendering a header's files, so their
 * precompiled form (Handlebars' own `precompile`) is kept in the cache ({@link cacheDir}) under a hash
 * of the template sources and the Handlebars version, and loaded with the Handlebars runtime alone;
 * the first run, or a run after a template changed, compiles them (same output either way: it is the
 * same compiler's code).
 */
function loadTemplates(): Map<string, HandlebarsNs.TemplateDelegate> {
  const dir = path.join(packageRoot(), 'templates');
  const names = readdirSync(dir).filter((x) => x.endsWith('.hbs')).sort();
  const sources = names.map((f) => readFileSync(path.join(dir, f), 'utf8'));
  const options = { noEscape: true, strict: true };
  const hash = createHash('sha1').update(JSON.stringify([names, sources, options, require('handlebars/package.json').version])).digest('hex').slice(0, 16);
  const cached = path.join(cacheDir(), 'templates', `${hash}.cjs`);
  let specs: Record<string, unknown> | undefined;
  try {
    specs = require(cached) as Record<string, unknown>;
  } catch {
    const full = require('handlebars') as typeof HandlebarsNs;
    const text = `module.exports = {${names.map((f, i) => `${JSON.stringify(f)}: ${full.precompile(sources[i]!, options)}`).join(',\n')}};\n`;
    try {
      makeDirs(path.dirname(cached));
      const tmp = `${cached}.${process.pid}.tmp`;
      writeFileSync(tmp, text);
      renameSync(tmp, cached);
      specs = require(cached) as Record<string, unknown>;
    } catch {
      specs = undefined; // no writable cache: compile in memory
    }
  }
  const hb = (specs ? require('handlebars/runtime') : require('handlebars')) as typeof HandlebarsNs;
  const env = hb.create();
  const out = new Map<string, HandlebarsNs.TemplateDelegate>();
  names.forEach((f, i) => {
    const t = specs ? env.template(specs[f] as Parameters<typeof env.template>[0]) : env.compile(sources[i]!, options);
    if (f.startsWith('_')) env.registerPartial(f.replace(/\.hbs$/, ''), t);
    else out.set(f.replace(/\.ts\.hbs$/, ''), t);
  });
  return out;
}

/** Renders one generated file of kind `kind`. */
export function renderFile(kind: FileKind, view: FileView): string {
  templates ??= loadTemplates();
  const t = templates.get(kind);
  if (!t) throw new Error(`missing template ${kind}.ts.hbs in ${path.join(packageRoot(), 'templates')}`);
  return t(view);
}
