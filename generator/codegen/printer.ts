/**
 * The one way generated TypeScript is printed: a module is a list of chunks of
 * code, each carrying the imports it needs, so a module imports exactly what
 * its code uses (no unused imports to silence, no edits of printed text).
 */

/** Where an import comes from: a module of the bindings' own, or of the runtime, resolved per file by the emitter. */
export type ModuleRef = string;

/** The names a piece of code imports, by module: value names and type-only names. */
export class Imports {
  private readonly byModule = new Map<ModuleRef, { values: Set<string>; types: Set<string> }>();

  /** Records that the code uses value `name` of module `from`; returns `name`. */
  value(from: ModuleRef, name: string): string {
    this.entry(from).values.add(name);
    return name;
  }

  /** Records that the code uses type `name` of module `from`; returns `name`. */
  type(from: ModuleRef, name: string): string {
    this.entry(from).types.add(name);
    return name;
  }

  /** Adds every import of `other`. */
  merge(other: Imports): this {
    for (const [from, e] of other.byModule) {
      for (const n of e.values) this.value(from, n);
      for (const n of e.types) this.type(from, n);
    }
    return this;
  }

  /** `import` statements, modules in the order `order` gives (then by name), names sorted. */
  print(resolve: (from: ModuleRef) => string, order: readonly ModuleRef[] = []): string[] {
    const rank = (m: ModuleRef) => (order.includes(m) ? order.indexOf(m) : order.length);
    const modules = [...this.byModule.keys()].sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
    const lines: string[] = [];
    for (const m of modules) {
      const { values, types } = this.byModule.get(m)!;
      const path = resolve(m);
      const onlyTypes = [...types].filter((t) => !values.has(t)).sort();
      if (values.size === 0) lines.push(`import type { ${onlyTypes.join(', ')} } from '${path}';`);
      else lines.push(`import { ${[...[...values].sort(), ...onlyTypes.map((t) => `type ${t}`)].join(', ')} } from '${path}';`);
    }
    return lines;
  }

  private entry(from: ModuleRef) {
    let e = this.byModule.get(from);
    if (!e) this.byModule.set(from, (e = { values: new Set(), types: new Set() }));
    return e;
  }
}

/** A piece of generated code and the imports it needs. */
export interface Chunk {
  readonly text: string;
  readonly imports: Imports;
}

/**
 * The code of a generated module: chunks separated by blank lines, and the
 * imports they use. Its frame (provenance line, module doc) is the template's
 * (./templates.ts).
 */
export class ModuleWriter {
  private readonly chunks: string[] = [];
  private readonly imports = new Imports();

  /** Appends code (a chunk, or text that needs no imports). */
  add(chunk: Chunk | string): this {
    if (typeof chunk === 'string') this.chunks.push(chunk);
    else {
      this.chunks.push(chunk.text);
      this.imports.merge(chunk.imports);
    }
    return this;
  }

  /** Records imports used by text added with {@link add}. */
  uses(imports: Imports): this {
    this.imports.merge(imports);
    return this;
  }

  /** The module's `import` statements and body sections; `resolve` turns module refs into import paths. */
  print(resolve: (from: ModuleRef) => string, order?: readonly ModuleRef[]): { imports: string[]; sections: string[] } {
    return { imports: this.imports.print(resolve, order), sections: [...this.chunks] };
  }
}

/** Makes text safe inside a `/** ... *\/` comment, on one line. */
export function docText(text: string): string {
  return text.replace(/\*\//g, '*\\/').replace(/\s+/g, ' ').trim();
}
