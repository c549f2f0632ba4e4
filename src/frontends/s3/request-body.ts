/**
 * The request-body pipeline: the raw body -> aws-chunked decoding (chunk signatures and
 * trailing checksums) -> verification of what the client declared (x-amz-checksum-*,
 * Content-MD5, a hex x-amz-content-sha256) -> the sink (a UFS write or a staged part).
 * Body errors win over sink errors, so a bad body is reported as such and nothing lands.
 * Also the small XML request documents (Delete, CompleteMultipartUpload).
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AwsChunkedDecoder, BodyVerifier, declaredChecksums, isAwsChunked, trailerAlgorithm } from './body.js';
import { isChecksumValue } from './checksums.js';
import { S3Error, s3err } from './errors.js';
import type { Req } from './request.js';
import type { VerifiedRequest } from './sigv4.js';
import { parseXml, XmlParseError, type XmlElement } from './xml.js';

const MAX_XML_BODY = 2 * 1024 * 1024;

function makeDecoder(r: Req): AwsChunkedDecoder {
  const h = r.req.headers;
  const alg = trailerAlgorithm(h);
  if (alg === 'unsupported') throw s3err.invalidArgument(`unsupported x-amz-trailer ${String(h['x-amz-trailer'])}`, 'x-amz-trailer');
  const dl = h['x-amz-decoded-content-length'];
  const decodedLength = typeof dl === 'string' && /^\d+$/.test(dl) ? Number(dl) : undefined;
  return new AwsChunkedDecoder({
    ...(alg ? { trailerChecksum: alg } : {}),
    ...(decodedLength !== undefined ? { decodedLength } : {}),
    ...(r.auth?.chunkSigner ? { signer: r.auth.chunkSigner } : {}),
    expectTrailer: alg !== undefined,
  });
}

/**
 * The SHA-256 the body must have, of the bytes as sent: the one the signature covers, or
 * (auth off) the hex x-amz-content-sha256 the client declared. Checked on the raw body,
 * before any aws-chunked decoding: `Content-Encoding: aws-chunked` is not signed, so it
 * must not turn the check off. A body under a signature without the header (which then
 * covers the empty body): refused by S3 (`refuseUnhashedBody`, as AWS), not checked by the
 * REST API (docs/rest-api.md).
 */
export function payloadSha256(headers: IncomingHttpHeaders, auth: VerifiedRequest | undefined, refuseUnhashedBody: boolean): string | undefined {
  const header = String(headers['x-amz-content-sha256'] ?? '');
  const declared = /^[0-9a-fA-F]{64}$/.test(header) ? header.toLowerCase() : undefined;
  // Anything else is refused, as AWS does (a body could not be checked against it).
  if (header !== '' && declared === undefined && !PAYLOAD_HASH_KEYWORDS.has(header)) {
    throw s3err.invalidArgument(`x-amz-content-sha256 must be ${[...PAYLOAD_HASH_KEYWORDS].join(', ')} or a valid sha256 value.`, 'x-amz-content-sha256', header);
  }
  if (auth) {
    if (auth.payloadHashMissing && hasBody(headers)) {
      if (!refuseUnhashedBody) return undefined;
      throw new S3Error('InvalidRequest', 400, 'Missing required header for this request: x-amz-content-sha256');
    }
    const signed = auth.payloadSha256;
    // (a presigned URL's hash and another in the header: no body can match both)
    if (signed && declared && signed !== declared) throw new S3Error('XAmzContentSHA256Mismatch', 400, 'The provided x-amz-content-sha256 header does not match the hash the signature covers.');
    // Signed for no hash (a presigned UNSIGNED-PAYLOAD URL, SigV2): the one the client declared.
    return signed ?? declared;
  }
  return declared;
}

/** The values of x-amz-content-sha256 that are not a hash (AWS's list). */
const PAYLOAD_HASH_KEYWORDS = new Set([
  'UNSIGNED-PAYLOAD',
  'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
  'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
  'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER',
  'STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD',
  'STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER',
]);

function hasBody(h: IncomingHttpHeaders): boolean {
  return h['transfer-encoding'] !== undefined || (h['content-length'] !== undefined && h['content-length'] !== '0');
}

/**
 * Checks of the decoded body: x-amz-checksum-* (when they describe this body), Content-MD5,
 * and the payload hash when nothing decodes it first.
 */
function verifier(h: IncomingHttpHeaders, sha256Hex: string | undefined, checksumsOfBody: boolean): BodyVerifier {
  const md5 = h['content-md5'];
  if (md5 !== undefined && (typeof md5 !== 'string' || !/^[A-Za-z0-9+/]{22}==$/.test(md5.trim()))) throw s3err.invalidDigest();
  const checksums = checksumsOfBody ? declaredChecksums(h) : [];
  // (as AWS answers: one algorithm per request, and a value that can be its digest; before
  // 2026-12-03 two were both checked, and a malformed one was a mismatch, BadDigest)
  if (checksums.length > 1) throw s3err.invalidRequest('Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.');
  for (const c of checksums) {
    if (!isChecksumValue(c.alg, c.want)) throw s3err.invalidRequest(`Value for x-amz-checksum-${c.alg} header is invalid.`);
  }
  return new BodyVerifier({
    checksums,
    ...(h['content-md5'] ? { contentMd5: String(h['content-md5']) } : {}),
    ...(sha256Hex ? { sha256Hex } : {}),
  });
}

/**
 * The stages that turn the request body into the decoded, verified object bytes.
 * `checksumsOfBody` false: the request's x-amz-checksum-* headers describe something else
 * (CompleteMultipartUpload's: the whole object, not its XML body).
 */
export function bodyStages(r: Req, checksumsOfBody = true): Transform[] {
  const h = r.req.headers;
  const stages: Transform[] = [];
  const sha = payloadSha256(h, r.auth, true);
  const chunked = isAwsChunked(h);
  if (chunked) {
    if (sha) stages.push(new BodyVerifier({ sha256Hex: sha }));
    stages.push(makeDecoder(r));
  }
  const v = verifier(h, chunked ? undefined : sha, checksumsOfBody);
  if (v.active) stages.push(v);
  return stages;
}

/**
 * An upload (PutObject, UploadPart) says how its body ends: a Content-Length, or a chunked
 * transfer. With neither, HTTP gives it an empty body, and a client that meant to send bytes
 * would have them stored as an empty object: 411 MissingContentLength, as AWS answers.
 */
export function requireBodyLength(r: Req): void {
  const h = r.req.headers;
  if (h['content-length'] === undefined && h['transfer-encoding'] === undefined) throw s3err.missingContentLength();
}

/** Stream the request body through its stages into `sink`; body errors win over sink errors. */
export function withBody<T>(r: Req, sink: (body: Readable) => Promise<T>, checksumsOfBody = true): Promise<T> {
  return throughStages(r.req, bodyStages(r, checksumsOfBody), sink);
}

/**
 * Stream `raw` through `stages` into `sink`. Body errors (a stage's: a hash or checksum that
 * does not match, a truncated body) win over sink errors, so a bad body is reported as such;
 * the sink sees its stream fail, so nothing lands. (The REST API's PUT uses it too.)
 */
export async function throughStages<T>(raw: Readable, stages: Transform[], sink: (body: Readable) => Promise<T>): Promise<T> {
  if (stages.length === 0) return sink(raw);
  const piping = pipeline([raw, ...stages] as unknown as [Readable, ...Transform[]]).then(
    () => undefined,
    (e: unknown) => e,
  );
  let out: T;
  try {
    out = await sink(stages[stages.length - 1]!);
  } catch (e) {
    stages[0]!.destroy();
    const pe = await piping;
    if (pe instanceof S3Error) throw pe;
    throw e;
  }
  const pe = await piping;
  if (pe) throw pe;
  return out;
}

/** A small body (XML documents), decoded when aws-chunked; refused above 2 MiB. */
export async function readSmallBody(r: Req, checksumsOfBody = true): Promise<string> {
  // Through the same stages as an object's body: decoded, and checked against what the
  // signature and the client declared.
  return withBody(r, async (body) => {
    const chunks: Buffer[] = [];
    let n = 0;
    for await (const c of body) {
      n += (c as Buffer).length;
      if (n > MAX_XML_BODY) throw s3err.malformedXml('The XML document is too large');
      chunks.push(c as Buffer);
    }
    return Buffer.concat(chunks).toString('utf8');
  }, checksumsOfBody);
}

/**
 * The request's XML document, whose root must be `rootName` (else MalformedXML).
 * `checksumsOfBody`: as bodyStages.
 */
export async function readXml(r: Req, rootName: string, checksumsOfBody = true): Promise<XmlElement> {
  const text = await readSmallBody(r, checksumsOfBody);
  try {
    const root = parseXml(text);
    if (root.name !== rootName) throw new XmlParseError(`expected <${rootName}>`);
    return root;
  } catch (e) {
    if (e instanceof XmlParseError) throw s3err.malformedXml();
    throw e;
  }
}
