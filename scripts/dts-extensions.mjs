// After `tsc -p tsconfig.lib.json`: gives the relative imports of the published .d.ts files their file extension
// ('./engine/errors' -> './engine/errors.js', './gpu' -> './gpu/index.js'), as TypeScript requires of an ES module
// package under `moduleResolution: node16/nodenext`. The sources keep extensionless imports (bundler resolution).
//
//   node scripts/dts-extensions.mjs [dist/lib/types]
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

const root = resolve(process.argv[2] ?? 'dist/lib/types');
const SPECIFIER = /(\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(['"])(\.{1,2}\/[^'"]*)\2/g;

/** The specifier with its extension, or unchanged when it has one or names no declaration file. */
function withExtension(file, spec) {
  if (/\.(js|mjs|cjs|json)$/.test(spec)) return spec;
  const target = resolve(dirname(file), spec);
  if (existsSync(`${target}.d.ts`)) return `${spec}.js`;
  if (existsSync(join(target, 'index.d.ts'))) return `${spec.replace(/\/$/, '')}/index.js`;
  return spec;
}

let changed = 0;
for (const name of readdirSync(root, { recursive: true })) {
  if (!String(name).endsWith('.d.ts')) continue;
  const file = join(root, String(name));
  const text = readFileSync(file, 'utf8');
  const out = text.replace(SPECIFIER, (_, lead, q, spec) => `${lead}${q}${withExtension(file, spec)}${q}`);
  if (out !== text) {
    writeFileSync(file, out);
    changed++;
  }
}
console.error(`dts-extensions: ${changed} declaration files under ${root} given explicit extensions`);
