/**
 * The CLI's entry (bin/run.js calls it). scripts/bundle.mjs bundles it with oclif and every
 * command into dist/bundle, so that one command loads a few files instead of ~250 modules.
 */
import { execute } from '@oclif/core';

/** Run the command in process.argv; `binUrl` is bin/run.js (oclif finds package.json from it). */
export async function main(binUrl: string): Promise<void> {
  await execute({ dir: binUrl });
}
