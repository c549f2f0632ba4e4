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
 * so it grows to cover the commands this installation uses (their names are kept in the same
 * file); other runs only read it.
 *
 * The cache is an optimisation only: a missing, unreadable or rejected cache means a normal
 * compile, and a directory that cannot be written (read-only install) means no cache. The
 * module is registered in require.cache, so the per-command stubs
 * (dist/bundle/commands/**.cjs) that oclif loads get this same instance.
 */
import { accessSync, constants, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
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

/** The cache file: "AXC1", the list's length (u32 BE), the list of runs (JSON), V8's data. */
const MAGIC = 'AXC1';

function readCache(cacheFile: string): { data: Buffer; runs: string[] } | undefined {
  try {
    const file = readFileSync(cacheFile);
    if (file.length < 8 || file.toString('latin1', 0, 4) !== MAGIC) return undefined;
    const n = file.readUInt32BE(4);
    const parsed = JSON.parse(file.toString('utf8', 8, 8 + n)) as unknown;
    const runs = Array.isArray(parsed) ? parsed.filter((r): r is string => typeof r === 'string') : [];
    return { data: file.subarray(8 + n), runs };
  } catch {
    return undefined;
  }
}

function encodeCache(runs: readonly string[], data: Buffer): Buffer {
  const list = Buffer.from(JSON.stringify(runs), 'utf8');
  const head = Buffer.alloc(8);
  head.write(MAGIC, 0, 'latin1');
  head.writeUInt32BE(list.length, 4);
  return Buffer.concat([head, list, data]);
}

/**
 * Which cache file fits this process and this bundle: V8 rejects a cache made under other
 * flags (--max-old-space-size, ...) or another Node, and checks only the source's LENGTH, so
 * the bundle's identity (size, mtime, inode, ctime: a rebuild or a deploy that keeps mtimes
 * still changes the ctime) is part of the name. A process that loaded an older bundle writes
 * under that bundle's name, never over the new one's.
 */
function flavour(bundle: { size: number; mtimeMs: number; ino: number; ctimeMs: number }): string {
  const s = `${process.version}\0${process.execArgv.join(' ')}\0${process.env.NODE_OPTIONS ?? ''}\0${bundle.size}:${bundle.mtimeMs}:${bundle.ino}:${bundle.ctimeMs}`;
  let h = 0x811c9dc5; // FNV-1a
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h.toString(16).padStart(8, '0');
}

function writable(dir: string): boolean {
  try {
    accessSync(dir, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Processes that run for hours (workers, the FUSE daemon, a migration's copier, the local
 * cluster's supervisor) read the cache but never add to it: their start-up time does not
 * matter, and the data plane's code would make the cache, which every command reads,
 * larger and slower to load.
 */
const LONG_RUNNING = new Set(['worker start', 'fuse mount', 'migrate run', 'local start']);

/** `require(filename)`, compiled with (or producing) the code cache `filename.<flavour>.v8cache`. */
export function requireWithCodeCache(filename: string, run: string): unknown {
  const existing = ModuleClass._cache[filename];
  if (existing) return existing.exports;
  const cacheFile = `${filename}.${flavour(statSync(filename))}.v8cache`;
  const cached = readCache(cacheFile);
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
  // A read-only install never pays for producing a cache it cannot keep.
  if (!LONG_RUNNING.has(run) && (!valid || !cached.runs.includes(run)) && writable(dirname(filename))) {
    const runs = valid ? [...cached.runs, run] : [run];
    // At exit the cache holds what the old one held plus what this run compiled; one file,
    // renamed into place whole.
    process.once('exit', () => {
      const tmp = `${cacheFile}.${process.pid}.tmp`;
      try {
        writeFileSync(tmp, encodeCache(runs, script.createCachedData()));
        renameSync(tmp, cacheFile);
      } catch {
        rmSync(tmp, { force: true });
      }
    });
  }
  return mod.exports;
}

/** What a run is called in the cache's list: up to two command words (`mount list`), no arguments. */
export function runName(argv: readonly string[]): string {
  const words: string[] = [];
  for (const a of argv) {
    if (!/^[a-z][a-z-]*$/.test(a) || words.length === 2) break;
    words.push(a);
  }
  return words.join(' ') || argv[0] || '';
}
