import { AlluxioError } from '../domain/errors.js';

/** A revision given on the command line: a positive integer, else InvalidArgument (exit 2). */
export function revisionArg(raw: string, name: string): number {
  if (!/^[1-9][0-9]{0,15}$/.test(raw.trim())) throw new AlluxioError('InvalidArgument', `${name} must be an etcd revision (a positive integer), got "${raw}"`);
  return Number(raw.trim());
}
