// Build fuse-native's binding with one fix, next to node_modules/fuse-native (never in it):
// node_modules/.alluxio/fuse-native/build/Release/fuse.node, loaded by the FUSE daemon through
// node-gyp-build's FUSE_NATIVE_PREBUILD (src/host/fuse-native.ts).
//
// The fix: libfuse 2.9 calls flush with a NULL path when it can no longer name an open file
// (its directory was removed or replaced: fuse_lib_flush ignores get_path_nullok's error), and
// fuse-native 2.2.6 builds the JavaScript string from that pointer without checking. The call
// then reached JavaScript with an uninitialised handle: a stale value, or garbage that V8
// faulted on (the daemon's SIGSEGV of 2026-12-02). Patched, such a path arrives as null.
//
// Usage: node scripts/fuse-native-build.mjs [--check]
//   Rebuilds only when the source, this script or Node changed (a stamp beside the binary).
//   --check: exit 0 when the patched binding is built and current, 1 when not.
// Needs a C compiler (cc), Node's headers (node_api.h, uv.h: the nodejs package has them) and
// libfuse2 (its headers come with fuse-shared-library-linux, an npm dependency of fuse-native).
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'package.json'));
const pkgDir = dirname(require.resolve('fuse-native/package.json'));
// Beside fuse-native's own directory, wherever npm put it: the place src/host/fuse-native.ts
// (fixedBindingDir) looks, derived the same way.
const outDir = join(dirname(pkgDir), '.alluxio', 'fuse-native');
const binary = join(outDir, 'build', 'Release', 'fuse.node');
const stampFile = join(outDir, 'stamp');

const EXPECTED_VERSION = '2.2.6';
// Every callback argument made from a path that libfuse may hand over as NULL.
const FROM = 'napi_create_string_utf8(env, l->path, NAPI_AUTO_LENGTH, &(argv[2]));';
const TO = 'fuse_native_path(env, l->path, &(argv[2]));';
const HELPER = `
// (alluxio) libfuse 2.9 passes a NULL path to flush once it lost the file's name: null for
// JavaScript, never a string made from a NULL pointer (which left argv[2] uninitialised).
static void fuse_native_path (napi_env env, const char *path, napi_value *out) {
  if (path == NULL) napi_get_null(env, out);
  else napi_create_string_utf8(env, path, NAPI_AUTO_LENGTH, out);
}
`;

function fail(msg) {
  process.stderr.write(`fuse-native-build: ${msg}\n`);
  process.exit(1);
}

function patchedSource() {
  const version = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')).version;
  if (version !== EXPECTED_VERSION) fail(`fuse-native ${version} is installed; this patch is for ${EXPECTED_VERSION} (review it, then update EXPECTED_VERSION)`);
  const src = readFileSync(join(pkgDir, 'fuse-native.c'), 'utf8');
  const uses = src.split(FROM).length - 1;
  if (uses < 30) fail(`expected the path conversion in every callback (30+), found ${uses}: the source changed`);
  const anchor = '// Helpers\n';
  if (!src.includes(anchor)) fail('the source changed (no "// Helpers" section)');
  return src.split(FROM).join(TO).replace(anchor, `${HELPER}\n${anchor}`);
}

function nodeIncludeDir() {
  const candidates = [join(dirname(process.execPath), '..', 'include', 'node'), '/usr/include/node', '/usr/local/include/node'];
  const dir = candidates.find((d) => existsSync(join(d, 'node_api.h')) && existsSync(join(d, 'uv.h')));
  if (!dir) fail(`Node's headers (node_api.h, uv.h) are not in ${candidates.join(', ')}`);
  return dir;
}

const source = patchedSource();
const stamp = createHash('sha256').update(source).update(readFileSync(fileURLToPath(import.meta.url))).update(process.version).digest('hex');
const current = existsSync(binary) && existsSync(stampFile) && readFileSync(stampFile, 'utf8') === stamp;
if (process.argv.includes('--check')) process.exit(current ? 0 : 1);
if (current) process.exit(0);

// (fuse-shared-library/include prints the directory rather than exporting it)
const fuseHeaders = join(dirname(require.resolve('fuse-shared-library-linux/package.json')), 'libfuse', 'include');
const includes = [nodeIncludeDir(), dirname(require.resolve('napi-macros/napi-macros.h')), fuseHeaders];
// (built aside: a failed build leaves the binding there was)
const tmp = `${outDir}.tmp`;
rmSync(tmp, { recursive: true, force: true });
mkdirSync(tmp, { recursive: true });
writeFileSync(join(tmp, 'fuse-native.c'), source);
// As fuse-native's binding.gyp (-O3 -Wall), linked against the system's libfuse.so.2 as its
// prebuilt binary is (Debian libfuse2).
const args = ['-shared', '-fPIC', '-O3', '-g', '-D_FILE_OFFSET_BITS=64', ...includes.map((d) => `-I${d}`), '-o', join(tmp, 'fuse.node'), join(tmp, 'fuse-native.c'), '-l:libfuse.so.2', '-lpthread'];
try {
  execFileSync(process.env.CC ?? 'cc', args, { stdio: ['ignore', 'inherit', 'inherit'] });
} catch (e) {
  fail(`compiling failed (${e.message.split('\n')[0]})`);
}
// It must load into this Node (undefined N-API symbols would show here, not in the daemon).
try {
  execFileSync(process.execPath, ['-e', `require(${JSON.stringify(join(tmp, 'fuse.node'))})`], { stdio: ['ignore', 'inherit', 'inherit'] });
} catch {
  fail('the built binding does not load');
}
rmSync(outDir, { recursive: true, force: true });
mkdirSync(dirname(binary), { recursive: true });
renameSync(join(tmp, 'fuse.node'), binary);
writeFileSync(stampFile, stamp);
rmSync(tmp, { recursive: true, force: true });
process.stderr.write(`fuse-native-build: built ${binary}\n`);
