/**
 * The tar format, as layers use it: POSIX ustar headers, with a PAX extended header
 * (typeflag `x`) only for what ustar cannot hold: long or non-ASCII paths and link targets,
 * sizes of 8 GiB or more, large ids or times. The same fields always give the same bytes.
 */
import { unsafePath } from '../image-errors.js';

export const BLOCK = 512;

export type TarEntryType = 'file' | 'hardlink' | 'symlink' | 'char' | 'block' | 'directory' | 'fifo';

export interface TarHeader {
  /** Relative path; directories without the trailing slash (added when encoding). */
  path: string;
  type: TarEntryType;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** Seconds since the epoch. */
  mtime: number;
  linkpath?: string;
  uname?: string;
  gname?: string;
  devmajor?: number;
  devminor?: number;
}

const TYPEFLAG: Record<TarEntryType, string> = {
  file: '0',
  hardlink: '1',
  symlink: '2',
  char: '3',
  block: '4',
  directory: '5',
  fifo: '6',
};

export function typeOfFlag(flag: string): TarEntryType | undefined {
  if (flag === '\0' || flag === '7') return 'file';
  for (const [type, value] of Object.entries(TYPEFLAG)) if (value === flag) return type as TarEntryType;
  return undefined;
}

const MAX_OCTAL_12 = 0o77777777777;
const MAX_OCTAL_8 = 0o7777777;
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

/**
 * Normalises a path read from or written into a layer: strips `./` and trailing slashes, and
 * refuses absolute paths, `..` components and empty names (where: for the error message).
 */
export function safeEntryPath(raw: string, where: string): string {
  if (raw.startsWith('/') || /^[A-Za-z]:[\\/]/.test(raw) || raw.includes('\0')) throw unsafePath(raw, where);
  const parts = raw.split('/').filter((part) => part !== '' && part !== '.');
  if (parts.length === 0 || parts.some((part) => part === '..')) throw unsafePath(raw, where);
  return parts.join('/');
}

function octal(value: number, width: number): string {
  return value.toString(8).padStart(width - 1, '0');
}

function writeString(block: Buffer, offset: number, width: number, value: string): void {
  block.write(value, offset, Math.min(width, Buffer.byteLength(value)), 'utf8');
}

function fitsUstarName(path: string): { name: string; prefix: string } | undefined {
  if (!PRINTABLE_ASCII.test(path)) return undefined;
  if (path.length <= 100) return { name: path, prefix: '' };
  // Split at a slash so that prefix <= 155 and name <= 100 bytes.
  for (let cut = path.indexOf('/'); cut !== -1; cut = path.indexOf('/', cut + 1)) {
    const prefix = path.slice(0, cut);
    const name = path.slice(cut + 1);
    if (prefix.length <= 155 && name.length <= 100 && name.length > 0) return { name, prefix };
  }
  return undefined;
}

function paxRecord(key: string, value: string): string {
  const rest = ` ${key}=${value}\n`;
  let size = Buffer.byteLength(rest);
  size += String(size).length;
  let record = `${size}${rest}`;
  // Adding the length's own digits may have added a digit to the length.
  if (Buffer.byteLength(record) !== size) record = `${Buffer.byteLength(record)}${rest}`;
  return record;
}

/** A ustar header block: the fields a reader gets back (`RawHeader`), plus the name's prefix. */
function ustarBlock(fields: RawHeader & { prefix: string }): Buffer {
  const block = Buffer.alloc(BLOCK);
  writeString(block, 0, 100, fields.name);
  block.write(`${octal(fields.mode, 8)}\0`, 100, 'ascii');
  block.write(`${octal(fields.uid, 8)}\0`, 108, 'ascii');
  block.write(`${octal(fields.gid, 8)}\0`, 116, 'ascii');
  block.write(`${octal(fields.size, 12)}\0`, 124, 'ascii');
  block.write(`${octal(fields.mtime, 12)}\0`, 136, 'ascii');
  block.write(fields.typeflag, 156, 'ascii');
  writeString(block, 157, 100, fields.linkname);
  block.write('ustar\u000000', 257, 'ascii');
  writeString(block, 265, 32, fields.uname);
  writeString(block, 297, 32, fields.gname);
  block.write(`${octal(fields.devmajor, 8)}\0`, 329, 'ascii');
  block.write(`${octal(fields.devminor, 8)}\0`, 337, 'ascii');
  writeString(block, 345, 155, fields.prefix);
  block.fill(' ', 148, 156);
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(`${octal(sum, 7)}\0 `, 148, 'ascii');
  return block;
}

/** The header block(s) of one entry: a PAX header first when ustar cannot hold a field. */
export function encodeHeader(header: TarHeader): Buffer {
  const isDir = header.type === 'directory';
  const path = isDir ? `${header.path}/` : header.path;
  const size = isDir || header.type === 'symlink' || header.type === 'hardlink' ? 0 : header.size;
  const linkpath = header.linkpath ?? '';
  const pax: [string, string][] = [];
  let split = fitsUstarName(path);
  if (!split) {
    pax.push(['path', path]);
    split = { name: asciiFallback(path, 100), prefix: '' };
  }
  let linkname = linkpath;
  if (!PRINTABLE_ASCII.test(linkpath) || linkpath.length > 100) {
    pax.push(['linkpath', linkpath]);
    linkname = asciiFallback(linkpath, 100);
  }
  const numeric = (key: string, value: number, max: number): number => {
    if (value <= max && value >= 0) return value;
    pax.push([key, String(value)]);
    return 0;
  };
  const fields = {
    ...split,
    mode: header.mode & 0o7777,
    uid: numeric('uid', header.uid, MAX_OCTAL_8),
    gid: numeric('gid', header.gid, MAX_OCTAL_8),
    size: numeric('size', size, MAX_OCTAL_12),
    mtime: numeric('mtime', Math.floor(header.mtime), MAX_OCTAL_12),
    typeflag: TYPEFLAG[header.type],
    linkname,
    uname: header.uname ?? '',
    gname: header.gname ?? '',
    devmajor: header.devmajor ?? 0,
    devminor: header.devminor ?? 0,
  };
  for (const key of ['uname', 'gname'] as const) {
    if (!PRINTABLE_ASCII.test(fields[key]) || fields[key].length > 32) {
      pax.push([key, fields[key]]);
      fields[key] = asciiFallback(fields[key], 32);
    }
  }
  const ustar = ustarBlock(fields);
  if (pax.length === 0) return ustar;
  pax.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const body = Buffer.from(pax.map(([key, value]) => paxRecord(key, value)).join(''), 'utf8');
  const paxHeader = ustarBlock({
    name: asciiFallback(`PaxHeaders.0/${path.split('/').filter(Boolean).pop() ?? ''}`, 100),
    prefix: '',
    mode: 0o644,
    uid: 0,
    gid: 0,
    size: body.length,
    mtime: fields.mtime,
    typeflag: 'x',
    linkname: '',
    uname: '',
    gname: '',
    devmajor: 0,
    devminor: 0,
  });
  return Buffer.concat([paxHeader, body, Buffer.alloc(padding(body.length)), ustar]);
}

function asciiFallback(text: string, width: number): string {
  return text.replace(/[^\x20-\x7e]/g, '_').slice(0, width);
}

/** Zero bytes after `size` bytes of content, up to the next block boundary. */
export function padding(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK;
}

/** The end-of-archive marker: two zero blocks. */
export const END_OF_ARCHIVE = Buffer.alloc(2 * BLOCK);

function readString(block: Buffer, offset: number, width: number): string {
  const field = block.subarray(offset, offset + width);
  const end = field.indexOf(0);
  return field.subarray(0, end === -1 ? width : end).toString('utf8');
}

/** Octal (with NUL/space padding) or GNU base-256 numbers. */
function readNumber(block: Buffer, offset: number, width: number): number {
  const field = block.subarray(offset, offset + width);
  if ((field[0]! & 0x80) !== 0) {
    let value = field[0]! & 0x7f;
    for (let i = 1; i < width; i++) value = value * 256 + field[i]!;
    return value;
  }
  const text = field
    .toString('ascii')
    .replace(/[\0 ]+$/g, '')
    .trim();
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) return Number.NaN;
  return Number.parseInt(text, 8);
}

export interface RawHeader {
  name: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  typeflag: string;
  linkname: string;
  uname: string;
  gname: string;
  devmajor: number;
  devminor: number;
}

/** Decodes one header block; undefined for a zero block; throws on a bad checksum. */
export function decodeBlock(block: Buffer, fail: (problem: string) => Error): RawHeader | undefined {
  if (block.every((byte) => byte === 0)) return undefined;
  const stored = readNumber(block, 148, 8);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : block[i]!;
  if (stored !== sum) throw fail('header checksum mismatch');
  const magic = block.subarray(257, 263).toString('ascii');
  const prefix = magic.startsWith('ustar') ? readString(block, 345, 155) : '';
  const name = readString(block, 0, 100);
  const header: RawHeader = {
    name: prefix ? `${prefix}/${name}` : name,
    mode: readNumber(block, 100, 8),
    uid: readNumber(block, 108, 8),
    gid: readNumber(block, 116, 8),
    size: readNumber(block, 124, 12),
    mtime: readNumber(block, 136, 12),
    typeflag: String.fromCharCode(block[156]!),
    linkname: readString(block, 157, 100),
    uname: readString(block, 265, 32),
    gname: readString(block, 297, 32),
    devmajor: readNumber(block, 329, 8),
    devminor: readNumber(block, 337, 8),
  };
  for (const key of ['mode', 'uid', 'gid', 'size', 'mtime'] as const) {
    if (!Number.isFinite(header[key]) || header[key] < 0) throw fail(`bad ${key} field`);
  }
  return header;
}

/** Parses PAX records (`<len> key=value\n`…). */
export function parsePax(body: Buffer, fail: (problem: string) => Error): Map<string, string> {
  const records = new Map<string, string>();
  let offset = 0;
  while (offset < body.length) {
    if (body[offset] === 0) break;
    const space = body.indexOf(0x20, offset);
    if (space === -1) throw fail('bad PAX record');
    const length = Number.parseInt(body.subarray(offset, space).toString('ascii'), 10);
    if (!Number.isSafeInteger(length) || length <= 0 || offset + length > body.length) {
      throw fail('bad PAX record length');
    }
    const record = body.subarray(space + 1, offset + length - 1).toString('utf8');
    const eq = record.indexOf('=');
    if (eq === -1) throw fail('bad PAX record');
    records.set(record.slice(0, eq), record.slice(eq + 1));
    offset += length;
  }
  return records;
}
