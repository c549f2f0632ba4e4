/**
 * The order of names in listings: UTF-8 byte order (what S3 listings and the UFS adapter
 * contract use). A module of its own so listings, the S3 adapter and migration do not
 * import the whole local-file adapter for one comparison.
 */

/** UTF-8 byte order of two strings (negative, 0, positive). */
export function compareUtf8(a: string, b: string): number {
  if (a === b) return 0;
  // For strings without surrogates, UTF-16 code unit order equals UTF-8 byte order
  // except across the surrogate range; Buffer.compare is always right.
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}
