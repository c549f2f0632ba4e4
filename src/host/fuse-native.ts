/**
 * Which fuse-native binding the FUSE daemon loads.
 *
 * fuse-native 2.2.6's prebuilt binding turns the NULL path libfuse 2.9 hands to flush, once it
 * can no longer name an open file (its directory was removed or replaced; fuse_lib_flush
 * ignores the lost path), into an uninitialised JavaScript value: usually a stale one, now and
 * then garbage that V8 faults on (the daemon's SIGSEGV, docs/fuse.md). The same source with
 * that one conversion checked is built by scripts/fuse-native-build.mjs (run by
 * scripts/ensure-deps.sh, so by `npm test` and the README's commands) beside
 * node_modules/fuse-native, and node-gyp-build loads it through FUSE_NATIVE_PREBUILD.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);

export interface FuseNativeChoice {
  /** The .node file fuse-native loads. */
  path: string;
  /** Whether it is the build with the NULL-path fix. */
  fixed: boolean;
}

function packageDir(): string {
  return dirname(require.resolve('fuse-native/package.json'));
}

/** The directory scripts/fuse-native-build.mjs builds into (its build/Release/fuse.node). */
export function fixedBindingDir(): string {
  return join(dirname(packageDir()), '.alluxio', 'fuse-native');
}

/**
 * Point fuse-native at the fixed binding when it is built (unless FUSE_NATIVE_PREBUILD names
 * another), and say which binding loads. Call before the first require('fuse-native').
 */
export function chooseFuseNative(): FuseNativeChoice {
  const dir = fixedBindingDir();
  if (existsSync(join(dir, 'build', 'Release', 'fuse.node'))) process.env.FUSE_NATIVE_PREBUILD ??= dir;
  const path = (require('node-gyp-build') as { path(dir: string): string }).path(packageDir());
  return { path, fixed: path.startsWith(`${dir}/`) };
}

/** The loaded binding's own functions (the one chooseFuseNative selected). */
export function fuseNativeBinding<T>(): T {
  return (require('node-gyp-build') as (dir: string) => T)(packageDir());
}
