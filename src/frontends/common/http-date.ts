/**
 * An HTTP date (Last-Modified) for an mtime, as the S3 and REST front ends send it. Warm
 * reads format the same few mtimes again and again, and Date formatting is slow: remembered.
 */
const httpDates = new Map<number, string>();

export function httpDate(ms: number): string {
  let text = httpDates.get(ms);
  if (text === undefined) {
    if (httpDates.size >= 4096) httpDates.clear();
    httpDates.set(ms, (text = new Date(ms).toUTCString()));
  }
  return text;
}
