/**
 * The CLI's entry (bin/run.js calls it with the bundle's URL). scripts/bundle.mjs bundles it
 * with oclif and every command into dist/bundle, so that one command loads a few files
 * instead of ~250 modules.
 */
import { execute } from '@oclif/core';

/** Run the command in process.argv; `from` is a file URL below the package root (oclif finds package.json from it). */
export async function main(from: string): Promise<void> {
  await execute({ dir: from });
}
