/**
 * The path of this package's bin/run.js, for processes that start the CLI again (a
 * migration's copier, `local start`'s workers). Found by walking up from this module, which
 * runs from dist/src/host/ (tests, library use) or from the bundle dist/bundle/alluxio.cjs.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let found: string | undefined;

export function cliEntry(): string {
  if (found) return found;
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    const candidate = join(dir, 'bin', 'run.js');
    if (existsSync(candidate) && existsSync(join(dir, 'package.json'))) return (found = candidate);
    if (dirname(dir) === dir) throw new Error(`bin/run.js not found above ${fileURLToPath(import.meta.url)}`);
  }
}
