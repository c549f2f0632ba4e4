// Bundle the compiled CLI (dist/, from tsc) into one CommonJS file, dist/bundle/alluxio.cjs:
// oclif, our libraries and every command. bin/run.js loads it with V8's code cache
// (src/cli/compile-cache.ts, bundled as dist/bundle/boot.cjs). Node's module loader (~250 CommonJS and ES modules) and
// compiling them were most of every command's cost (docs/cli-performance.md).
//
// Each command's module is evaluated only when that command runs: the bundle's entry reaches
// them through require() in a switch (esbuild wraps each in a lazy initialiser). oclif still
// finds commands as files: dist/bundle/commands/<topic>/<name>.cjs are two-line stubs that
// take their class from the bundle, and the help class likewise (dist/bundle/help.cjs).
//
// Packages that are native (re2, fuse-native), heavy and loaded on first use (etcd3 with its
// grpc, cockatiel, the AWS SDK), or prompts (@inquirer) stay in node_modules and are
// required where they are used.
import { build } from 'esbuild';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const dist = join(root, 'dist');
const out = join(dist, 'bundle');
const EXTERNAL = ['etcd3', 'cockatiel', 're2', 'fuse-native', 'pino', 'prom-client', '@aws-sdk/*', '@smithy/*', '@inquirer/prompts', 'typescript', 'ts-node', 'tsx'];

const walk = (d) => readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(d, e.name)) : [join(d, e.name)]));
/** Command id (oclif's: the path under commands/, `index` dropped) -> compiled module. */
const commands = walk(join(dist, 'commands'))
  .filter((f) => f.endsWith('.js'))
  .map((file) => {
    const rel = relative(join(dist, 'commands'), file).replace(/\.js$/, '');
    return { rel, id: rel.replace(/(^|\/)index$/, '').split('/').join(':'), file };
  });

const req = (file) => JSON.stringify('./' + relative(dist, file));
const entry = [
  "exports.main = (from) => require('./src/cli/main.js').main(from);",
  'exports.command = (id) => {',
  '  switch (id) {',
  ...commands.map((c) => `    case ${JSON.stringify(c.id)}: return require(${req(c.file)}).default;`),
  '  }',
  '  throw new Error(`no command ${id} in this bundle`);',
  '};',
  "exports.help = () => require('./src/cli/help.js').default;",
].join('\n');

// oclif sorts its commands with String#localeCompare, whose first call loads ICU's collation
// data: 6-8 ms of every command. Command ids (lowercase words, '-' and ':') sort the same by
// code point. The build fails if oclif's code no longer reads as expected.
const OCLIF_SORT = '.sort((a, b) => a.id.localeCompare(b.id))';
const codePointSort = {
  name: 'oclif-code-point-sort',
  setup(b) {
    b.onLoad({ filter: /@oclif[\\/]core[\\/]lib[\\/]config[\\/]plugin\.js$/ }, async (args) => {
      const source = readFileSync(args.path, 'utf8');
      if (!source.includes(OCLIF_SORT)) throw new Error(`${args.path} no longer sorts commands with ${OCLIF_SORT}: review scripts/bundle.mjs`);
      return { contents: source.replace(OCLIF_SORT, '.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))'), loader: 'js' };
    });
  },
};

rmSync(out, { recursive: true, force: true });
await build({
  stdin: { contents: entry, resolveDir: dist, sourcefile: 'alluxio-entry.cjs', loader: 'js' },
  outfile: join(out, 'alluxio.cjs'),
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  external: EXTERNAL,
  // A dynamic import() cannot run inside the vm.Script the code cache compiles: external
  // packages imported dynamically are required instead (all have CommonJS builds).
  supported: { 'dynamic-import': false },
  // Our ES modules use import.meta.url (createRequire, locating bin/run.js): the bundle's URL.
  define: { 'import.meta.url': '__alluxioBundleUrl' },
  banner: { js: "const __alluxioBundleUrl = require('node:url').pathToFileURL(__filename).href;" },
  // Smaller to parse on the first run (before the code cache exists); names are kept for error classes.
  minify: true,
  keepNames: true,
  logLevel: 'warning',
  plugins: [codePointSort],
});

/** One compiled module and what it imports from dist/, as one file of the bundle directory. */
const bundleOne = (entry, outfile, format) => build({ entryPoints: [join(dist, ...entry)], outfile: join(out, outfile), bundle: true, format, platform: 'node', target: 'node20', logLevel: 'warning' });

// The loader bin/run.js requires (src/cli/compile-cache.ts) as CommonJS too: bin/ is a
// CommonJS directory (bin/package.json), so a command never starts Node's ES module loader
// (about 5 ms of CPU on this machine, docs/cli-performance.md).
await bundleOne(['src', 'cli', 'compile-cache.js'], 'boot.cjs', 'cjs');

// The page writer's thread (src/cache/page-writer.ts starts it from the file next to the
// module that starts it: here, next to alluxio.cjs). An ES module: dist/ is "type": "module".
await bundleOne(['src', 'cache', 'page-writer-thread.js'], 'page-writer-thread.js', 'esm');

const stub = (file, expr) => {
  mkdirSync(dirname(file), { recursive: true });
  const path = relative(dirname(file), join(out, 'alluxio.cjs'));
  const spec = JSON.stringify(path.startsWith('.') ? path : `./${path}`);
  writeFileSync(file, `// Generated by scripts/bundle.mjs: oclif loads this file; the code is in the bundle.\nmodule.exports = { default: require(${spec}).${expr} };\n`);
};
for (const c of commands) stub(join(out, 'commands', `${c.rel}.cjs`), `command(${JSON.stringify(c.id)})`);
stub(join(out, 'help.cjs'), 'help()');
console.log(`bundled ${commands.length} commands into ${relative(root, join(out, 'alluxio.cjs'))}`);
