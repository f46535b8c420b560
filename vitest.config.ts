import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vitest/config';

const root = fileURLToPath(new URL('.', import.meta.url));
type Target = string | { default: string };
const exportsMap = (JSON.parse(readFileSync(`${root}packages/vfio-uapi/package.json`, 'utf8')) as { exports: Record<string, Target> }).exports;

/**
 * Tests run on the sources: an import of the `vfio-uapi` package by name (as the CLI, the
 * conformance suite and generated code write it) goes through the package's exports map to
 * its compiled file `dist/<path>.js`, then to the source `<repository>/<path>.ts` that compiles
 * to it, so that a test and the code it tests share one copy of every module.
 */
function bindingsFromSource(): Plugin {
  return {
    name: 'vfio-uapi-from-source',
    enforce: 'pre',
    resolveId(id) {
      if (id !== 'vfio-uapi' && !id.startsWith('vfio-uapi/')) return null;
      const subpath = `.${id.slice('vfio-uapi'.length)}`;
      for (const [key, target] of Object.entries(exportsMap)) {
        const file = typeof target === 'string' ? target : target.default;
        const star = key.indexOf('*');
        let dist: string | undefined;
        if (star < 0) dist = key === subpath ? file : undefined;
        else if (subpath.startsWith(key.slice(0, star)) && subpath.endsWith(key.slice(star + 1)) && subpath.length >= key.length - 1) {
          dist = file.replace('*', subpath.slice(star, subpath.length - (key.length - star - 1)));
        }
        if (dist?.startsWith('./dist/') && dist.endsWith('.js')) return `${root}${dist.slice('./dist/'.length, -'.js'.length)}.ts`;
      }
      return null;
    },
  };
}

export default defineConfig({
  plugins: [bindingsFromSource()],
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 600_000,
    pool: 'forks',
  },
});
