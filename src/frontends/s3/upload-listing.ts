/**
 * ListMultipartUploads paging (pure): prefix, delimiter (keys grouped into common prefixes,
 * each counted once), key-marker / upload-id-marker, max-uploads (at most 1000). Uploads are
 * in UTF-8 byte order of their keys, then by initiation (and id, for a stable order); a page
 * ends after `max` entries and names the last upload as the next markers. An upload-id-marker
 * resumes after that upload among the key's uploads (the markers this produces); one this
 * did not produce resumes after the key's uploads with lexicographically greater ids, as S3
 * defines it.
 */
import { compareUtf8 } from '../../ufs/file.js';

export interface ListedUpload {
  key: string;
  uploadId: string;
  initiated: string;
}

export interface UploadPageInput {
  prefix: string;
  delimiter: string;
  keyMarker: string;
  /** Only with keyMarker (S3 ignores it alone). */
  uploadIdMarker: string;
  maxUploads: number;
}

export interface UploadPage<U extends ListedUpload> {
  uploads: U[];
  commonPrefixes: string[];
  isTruncated: boolean;
  nextKeyMarker: string | undefined;
  nextUploadIdMarker: string | undefined;
}

export function pageUploads<U extends ListedUpload>(all: readonly U[], p: UploadPageInput): UploadPage<U> {
  const sorted = all
    .filter((u) => u.key.startsWith(p.prefix))
    .sort((a, b) => compareUtf8(a.key, b.key) || (a.initiated < b.initiated ? -1 : a.initiated > b.initiated ? 1 : 0) || (a.uploadId < b.uploadId ? -1 : a.uploadId > b.uploadId ? 1 : 0));
  let rest: U[] = sorted;
  if (p.keyMarker) {
    const markerAt = p.uploadIdMarker ? sorted.findIndex((u) => u.key === p.keyMarker && u.uploadId === p.uploadIdMarker) : -1;
    rest =
      markerAt >= 0
        ? sorted.slice(markerAt + 1)
        : sorted.filter((u) => {
            const c = compareUtf8(u.key, p.keyMarker);
            return c > 0 || (c === 0 && p.uploadIdMarker !== '' && u.uploadId > p.uploadIdMarker);
          });
  }
  const out: UploadPage<U> = { uploads: [], commonPrefixes: [], isTruncated: false, nextKeyMarker: undefined, nextUploadIdMarker: undefined };
  if (p.maxUploads === 0) return out; // an empty, untruncated page (as ListObjects' max-keys=0)
  let count = 0;
  for (let i = 0; i < rest.length; i++) {
    const u = rest[i]!;
    let cp: string | undefined;
    if (p.delimiter) {
      const at = u.key.indexOf(p.delimiter, p.prefix.length);
      if (at >= 0) cp = u.key.slice(0, at + p.delimiter.length);
    }
    if (cp !== undefined && out.commonPrefixes[out.commonPrefixes.length - 1] === cp) continue;
    // a common prefix the marker is inside was listed on an earlier page
    if (cp !== undefined && p.keyMarker && p.keyMarker.startsWith(cp)) continue;
    if (count === p.maxUploads) {
      out.isTruncated = true;
      break;
    }
    count++;
    if (cp !== undefined) {
      out.commonPrefixes.push(cp);
      // the next page starts after every upload below this prefix
      let j = i;
      while (j + 1 < rest.length && rest[j + 1]!.key.startsWith(cp)) j++;
      out.nextKeyMarker = rest[j]!.key;
      out.nextUploadIdMarker = rest[j]!.uploadId;
      i = j;
    } else {
      out.uploads.push(u);
      out.nextKeyMarker = u.key;
      out.nextUploadIdMarker = u.uploadId;
    }
  }
  if (!out.isTruncated) {
    out.nextKeyMarker = undefined;
    out.nextUploadIdMarker = undefined;
  }
  return out;
}
