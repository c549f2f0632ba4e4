import assert from 'node:assert/strict';
import { AlluxioError, type ErrorCode } from '../../src/domain/errors.js';

/** `fn` must throw an AlluxioError with this code (and step, and a message matching `pattern`). */
export function failsAt(fn: () => unknown, code: ErrorCode, step?: string, pattern?: RegExp): AlluxioError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof AlluxioError, `expected AlluxioError(${code}), got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (step) assert.equal(e.step, step, e.message);
    if (pattern) assert.match(e.message, pattern);
    return e;
  }
  assert.fail(`expected ${code}`);
}

/** `fn` must throw an AlluxioError with this code (and a message matching `pattern`). */
export function fails(fn: () => unknown, code: ErrorCode, pattern?: RegExp): AlluxioError {
  return failsAt(fn, code, undefined, pattern);
}
