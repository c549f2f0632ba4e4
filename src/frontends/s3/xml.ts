/**
 * The S3 XML layer: a small builder for responses and a strict little parser for the
 * request documents S3 clients send (Delete, CompleteMultipartUpload). No DTDs, no
 * entities beyond the five predefined ones and character references (so no XXE and no
 * entity expansion).
 */

export const XML_NS = 'http://s3.amazonaws.com/doc/2006-03-01/';

/** Characters XML 1.0 cannot carry at all (C0 controls but TAB/LF/CR, U+FFFE/U+FFFF, lone surrogates). */
const NOT_XML10 = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const NOT_XML10_G = new RegExp(NOT_XML10.source, 'g');

/** True when `s` holds a character no XML 1.0 document can carry (listings then answer url-encoded). */
export function needsUrlEncoding(s: string): boolean {
  return NOT_XML10.test(s);
}

/**
 * Text for XML 1.0: the five special characters as entities, CR as `&#13;` (a raw CR would
 * be normalised to LF by the parser), and characters XML 1.0 cannot carry replaced by
 * U+FFFD (listings never get here with them: they answer url-encoded, losslessly).
 */
export function esc(s: string | number | boolean): string {
  return String(s)
    .replace(/[&<>"'\r]/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '"' ? '&quot;' : c === '\r' ? '&#13;' : '&apos;'))
    .replace(NOT_XML10_G, '\uFFFD');
}

export type XmlValue = string | number | boolean | XmlNode | XmlValue[] | undefined | null;
export interface XmlNode {
  [tag: string]: XmlValue;
}

function render(tag: string, v: XmlValue): string {
  if (v === undefined || v === null) return '';
  if (Array.isArray(v)) return v.map((x) => render(tag, x)).join('');
  if (typeof v === 'object') return `<${tag}>${renderChildren(v)}</${tag}>`;
  return `<${tag}>${esc(v)}</${tag}>`;
}

function renderChildren(n: XmlNode): string {
  let out = '';
  for (const [k, v] of Object.entries(n)) out += render(k, v);
  return out;
}

/** `<?xml ...?><Root xmlns="...">children</Root>` */
export function xmlDoc(root: string, body: XmlNode, ns = true): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<${root}${ns ? ` xmlns="${XML_NS}"` : ''}>${renderChildren(body)}</${root}>`;
}

export interface XmlElement {
  name: string;
  children: XmlElement[];
  text: string;
}

export class XmlParseError extends Error {}

function decodeEntities(s: string): string {
  return s.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|amp|lt|gt|quot|apos);/g, (_m, e: string) => {
    if (e === 'amp') return '&';
    if (e === 'lt') return '<';
    if (e === 'gt') return '>';
    if (e === 'quot') return '"';
    if (e === 'apos') return "'";
    const cp = e.startsWith('#x') ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
    if (!Number.isFinite(cp) || cp > 0x10ffff) throw new XmlParseError(`bad character reference &${e};`);
    return String.fromCodePoint(cp);
  });
}

/** Parse a document into its root element. Throws XmlParseError when malformed. */
export function parseXml(src: string): XmlElement {
  let i = 0;
  const n = src.length;
  const skipWs = () => {
    while (i < n && /\s/.test(src[i]!)) i++;
  };
  const skipMisc = () => {
    for (;;) {
      skipWs();
      if (src.startsWith('<?', i)) {
        const j = src.indexOf('?>', i);
        if (j < 0) throw new XmlParseError('unterminated processing instruction');
        i = j + 2;
      } else if (src.startsWith('<!--', i)) {
        const j = src.indexOf('-->', i);
        if (j < 0) throw new XmlParseError('unterminated comment');
        i = j + 3;
      } else if (src.startsWith('<!', i)) {
        throw new XmlParseError('DTDs are not accepted');
      } else return;
    }
  };
  const NAME = /[A-Za-z_][\w.\-:]*/y;
  const parseElement = (depth: number): XmlElement => {
    if (depth > 32) throw new XmlParseError('document nested too deeply');
    if (src[i] !== '<') throw new XmlParseError(`expected "<" at offset ${i}`);
    i++;
    NAME.lastIndex = i;
    const m = NAME.exec(src);
    if (!m) throw new XmlParseError(`expected an element name at offset ${i}`);
    const full = m[0];
    const name = full.includes(':') ? full.slice(full.indexOf(':') + 1) : full;
    i += full.length;
    // attributes (ignored, but must be well formed)
    for (;;) {
      skipWs();
      if (src.startsWith('/>', i)) {
        i += 2;
        return { name, children: [], text: '' };
      }
      if (src[i] === '>') {
        i++;
        break;
      }
      NAME.lastIndex = i;
      const a = NAME.exec(src);
      if (!a) throw new XmlParseError(`bad attribute at offset ${i}`);
      i += a[0].length;
      skipWs();
      if (src[i] !== '=') throw new XmlParseError(`expected "=" at offset ${i}`);
      i++;
      skipWs();
      const q = src[i];
      if (q !== '"' && q !== "'") throw new XmlParseError(`expected a quoted value at offset ${i}`);
      const j = src.indexOf(q, i + 1);
      if (j < 0) throw new XmlParseError('unterminated attribute value');
      i = j + 1;
    }
    const el: XmlElement = { name, children: [], text: '' };
    let text = '';
    for (;;) {
      if (i >= n) throw new XmlParseError(`unterminated element <${full}>`);
      if (src.startsWith('</', i)) {
        i += 2;
        NAME.lastIndex = i;
        const c = NAME.exec(src);
        if (!c || c[0] !== full) throw new XmlParseError(`mismatched closing tag for <${full}>`);
        i += c[0].length;
        skipWs();
        if (src[i] !== '>') throw new XmlParseError('bad closing tag');
        i++;
        el.text = decodeEntities(text);
        return el;
      }
      if (src.startsWith('<!--', i)) {
        const j = src.indexOf('-->', i);
        if (j < 0) throw new XmlParseError('unterminated comment');
        i = j + 3;
        continue;
      }
      if (src.startsWith('<![CDATA[', i)) {
        const j = src.indexOf(']]>', i);
        if (j < 0) throw new XmlParseError('unterminated CDATA');
        text += src.slice(i + 9, j).replace(/&/g, '&amp;').replace(/</g, '&lt;');
        i = j + 3;
        continue;
      }
      if (src[i] === '<') {
        el.children.push(parseElement(depth + 1));
        continue;
      }
      const j = src.indexOf('<', i);
      const chunk = j < 0 ? src.slice(i) : src.slice(i, j);
      text += chunk;
      i = j < 0 ? n : j;
    }
  };
  skipMisc();
  const root = parseElement(0);
  skipMisc();
  if (i !== n) throw new XmlParseError('content after the root element');
  return root;
}

export function child(el: XmlElement, name: string): XmlElement | undefined {
  return el.children.find((c) => c.name === name);
}
export function childrenNamed(el: XmlElement, name: string): XmlElement[] {
  return el.children.filter((c) => c.name === name);
}
