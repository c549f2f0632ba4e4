/**
 * The CLI's entry (bin/run.js calls it with the bundle's URL). scripts/bundle.mjs bundles it
 * with oclif and every command into dist/bundle, so that one command loads a few files
 * instead of ~250 modules.
 */
import { Errors, flush, handle, run } from '@oclif/core';
import { ExitCode } from '../domain/errors.js';
import type { ErrorDoc } from './results.js';

/** Run the command in process.argv; `from` is a file URL below the package root (oclif finds package.json from it). */
export async function main(from: string): Promise<void> {
  const argv = process.argv.slice(2);
  try {
    await run(argv, from);
    flush();
  } catch (e) {
    // A command renders its own errors (BaseCommand.catch) and exits with ExitError. What
    // fails before a command runs (an unknown command or topic) is oclif's: with --json it
    // is still one JSON document on stdout, as cli.md promises for every error.
    const flags = argv.includes('--') ? argv.slice(0, argv.indexOf('--')) : argv;
    if (flags.includes('--json') && !(e instanceof Errors.ExitError) && e instanceof Error) {
      const exitCode = (e as { oclif?: { exit?: number } }).oclif?.exit ?? ExitCode.usage;
      // oclif names the command by its id (mount:nosuch); users type it with spaces
      const message = e.message.replace(/\s*\n\s*/g, ' ').trim().replace(/^command (\S+) not found/, (_, id: string) => `command "${id.replace(/:/g, ' ')}" not found`);
      const doc: ErrorDoc = { error: { code: 'UsageError', message, exitCode } };
      process.stdout.write(JSON.stringify(doc, null, 2) + '\n');
      process.exitCode = exitCode;
      return;
    }
    // oclif's handle() ends in process.exit: what is still queued for a pipe would be lost
    // (a dry-run report over 64 KiB was cut at the pipe's size, exit 0), so wait for it.
    await Promise.all([written(process.stdout), written(process.stderr)]);
    await handle(e as Error);
  }
}

/** Resolves once everything written to `s` so far has been handed to the OS. */
function written(s: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => {
    if (s.writableLength === 0 || s.destroyed) return resolve();
    s.write('', () => resolve());
  });
}
