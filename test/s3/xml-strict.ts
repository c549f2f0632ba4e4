/**
 * Strict XML 1.0 well-formedness for tests: Python's expat (what botocore parses with), so
 * a raw control character or a bad reference fails here as it fails in a client.
 */
import assert from 'node:assert/strict';
import { run } from './env.js';

const CHECK = `
import sys, base64, xml.dom.minidom
data = base64.b64decode(sys.stdin.read())
try:
    xml.dom.minidom.parseString(data)
    print("ok")
except Exception as e:
    print("bad: %s" % e)
`;

/** Assert `body` is a well-formed XML 1.0 document. */
export async function assertWellFormed(body: Buffer | string, what = 'answer'): Promise<void> {
  const r = await run('/usr/bin/python3', ['-c', CHECK], {}, Buffer.from(body).toString('base64'));
  assert.equal(r.stdout.trim(), 'ok', `${what} is not well-formed XML: ${r.stdout} ${r.stderr}\n${Buffer.from(body).toString()}`);
}
