/**
 * Loading the bundled CLI (dist/bundle/alluxio.cjs, scripts/bundle.mjs) with V8's code
 * cache: the first run compiles it as usual and, on exit, saves the compiled code of every
 * function it ran next to the bundle; later runs start from that code instead of parsing and
 * compiling again. Node 20 has no compile cache of its own (module.enableCompileCache came in
 * 22.1), and compiling oclif and our code was the largest cost of a command after Node's
 * own start (docs/cli-performance.md).
 *
 * V8 compiles functions when they first run, and the cache holds those compiled so far: the
 * first run of each command (`mount list`: its words, not its arguments) saves it again,
 * so it grows to cover the commands this installation uses (their names are kept beside it in
 * `.v8cache.json`); other runs only read it.
 *
 * The cache is an optimisation only: a missing, unreadable, stale (older than the bundle)
 * or rejected cache (another Node or V8 version) means a normal compile, and a cache that
 * cannot be written (read-only install) is skipped silently. The module is registered in
 * require.cache, so the per-command stubs (dist/bundle/commands/**.cjs) that oclif loads
 * get this same instance.
 */
import { readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { Script } from 'node:vm';

type CjsModule = Module & { filename: string; paths: string[]; loaded: boolean; exports: unknown };
const ModuleClass = Module as unknown as {
  new (id: string, parent?: unknown): CjsModule;
  _cache: Record<string, CjsModule>;
  _nodeModulePaths(dir: string): string[];
  wrap(source: string): string;
};

function readCache(filename: string, cacheFile: string): { data: Buffer; runs: string[] } | undefined {
  try {
    if (statSync(cacheFile).mtimeMs < statSync(filename).mtimeMs) return undefined;
    const data = readFileSync(cacheFile);
    let runs: string[] = [];
    try {
      const parsed = JSON.parse(readFileSync(`${cacheFile}.json`, 'utf8')) as unknown;
      if (Array.isArray(parsed)) runs = parsed.filter((r): r is string => typeof r === 'string');
    } catch {
      // no list: this cache covers no command yet
    }
    return { data, runs };
  } catch {
    return undefined;
  }
}

/**
 * V8 rejects a cache made under other flags (--max-old-space-size, ...) or another Node: one
 * cache per Node version and flag set, so runs that differ do not keep replacing each other's.
 */
function flavour(): string {
  const s = `${process.version}\0${process.execArgv.join(' ')}\0${process.env.NODE_OPTIONS ?? ''}`;
  let h = 0x811c9dc5; // FNV-1a
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h.toString(16).padStart(8, '0');
}

function writeAtomically(file: string, data: string | Buffer): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, data);
  renameSync(tmp, file);
}

/** `require(filename)`, compiled with (or producing) the code cache `filename.<flavour>.v8cache`. */
export function requireWithCodeCache(filename: string, run: string): unknown {
  const existing = ModuleClass._cache[filename];
  if (existing) return existing.exports;
  const cacheFile = `${filename}.${flavour()}.v8cache`;
  const cached = readCache(filename, cacheFile);
  const script = new Script(ModuleClass.wrap(readFileSync(filename, 'utf8')), { filename, ...(cached ? { cachedData: cached.data } : {}) });
  const mod = new ModuleClass(filename);
  mod.filename = filename;
  mod.paths = ModuleClass._nodeModulePaths(dirname(filename));
  ModuleClass._cache[filename] = mod;
  try {
    const wrapper = script.runInThisContext() as (exports: unknown, require: NodeJS.Require, module: CjsModule, filename: string, dirname: string) => void;
    wrapper.call(mod.exports, mod.exports, createRequire(filename), mod, filename, dirname(filename));
    mod.loaded = true;
  } catch (e) {
    delete ModuleClass._cache[filename];
    throw e;
  }
  const valid = cached && !script.cachedDataRejected;
  if (!LONG_RUNNING.has(run) && (!valid || !cached.runs.includes(run))) {
    const runs = valid ? [...cached.runs, run] : [run];
    // At exit the cache holds what the old one held plus what this run compiled.
    process.once('exit', () => {
      try {
        writeAtomically(cacheFile, script.createCachedData());
        writeAtomically(`${cacheFile}.json`, JSON.stringify(runs));
      } catch {
        // read-only or full disk: the next run compiles again
      }
    });
  }
  return mod.exports;
}

/**
 * Processes that run for hours (workers, the FUSE daemon, a migration's copier, the local
 * cluster's supervisor) read the cache but never add to it: their start-up time does not
 * matter, and the data plane's code would make the cache, which every command reads,
 * larger and slower to load.
 */
const LONG_RUNNING = new Set(['worker start', 'fuse mount', 'migrate run', 'local start']);

/** What a run is called in the cache's list: up to two command words (`mount list`), no arguments. */
export function runName(argv: readonly string[]): string {
  const words: string[] = [];
  for (const a of argv) {
    if (!/^[a-z][a-z-]*$/.test(a) || words.length === 2) break;
    words.push(a);
  }
  return words.join(' ') || argv[0] || '';
}
