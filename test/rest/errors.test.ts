/**
 * The HTTP status table (src/frontends/rest/errors.ts HTTP_STATUS, shared by the REST API
 * and the worker's own endpoints) against the error table in docs/rest-api.md: every
 * ErrorCode the docs list answers with the status the docs give it, and the rules every
 * HTTP boundary keeps (ReadOnlyMount 403, UfsUnavailable 503, UfsNotSupported 501).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { AlluxioError, type ErrorCode } from '../../src/domain/errors.js';
import { fromAlluxio, HTTP_STATUS } from '../../src/frontends/rest/errors.js';
import { ROOT } from '../helpers/cli.js';

describe('HTTP_STATUS agrees with docs/rest-api.md', () => {
  const doc = readFileSync(join(ROOT, 'docs', 'rest-api.md'), 'utf8');
  const section = doc.slice(doc.indexOf('## Errors'), doc.indexOf('## Authentication'));
  const rows = section.split('\n').filter((l) => /^\| \d{3} \|/.test(l));

  it('the docs table has rows', () => assert.ok(rows.length >= 8, section));

  for (const row of rows) {
    const [, status, codes] = /^\| (\d{3}) \| ([^|]*)\|/.exec(row)!;
    const listed = [...codes!.matchAll(/`([A-Za-z]+)`/g)].map((m) => m[1]!).filter((c): c is ErrorCode => c in HTTP_STATUS);
    for (const code of listed) {
      it(`${code} is ${status}`, () => {
        assert.equal(HTTP_STATUS[code], Number(status));
        const e = fromAlluxio(new AlluxioError(code, 'x'));
        assert.equal(e.status, Number(status));
        assert.equal(e.code, code);
      });
    }
  }

  it('a read-only mount is 403, an unavailable UFS 503, an unserved UFS scheme 501, a too-long name 400', () => {
    assert.equal(HTTP_STATUS.ReadOnlyMount, 403);
    assert.equal(HTTP_STATUS.UfsUnavailable, 503);
    assert.equal(HTTP_STATUS.UfsNotSupported, 501);
    assert.equal(HTTP_STATUS.NameTooLong, 400);
  });
});
