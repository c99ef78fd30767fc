/**
 * The tar format: headers ledge writes read back identically (by ledge and by GNU tar), and
 * reading refuses entries that would land outside the archive's root.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { encodeHeader, isImageError, readTar, type TarHeader, writeTar } from '../../src/image/index.js';
import { tempDir } from '../helpers/temp-dir.js';

async function collect(chunks: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of chunks) parts.push(chunk);
  return Buffer.concat(parts);
}

async function entriesOf(archive: Buffer, where = 'test.tar') {
  const found: { header: TarHeader; content: string }[] = [];
  for await (const entry of readTar([archive], where)) {
    found.push({ header: entry.header, content: (await collect(entry.body)).toString('utf8') });
  }
  return found;
}

function file(
  pathInTar: string,
  content: string,
  extra: Partial<TarHeader> = {},
): { header: TarHeader; content: Buffer } {
  const bytes = Buffer.from(content);
  return {
    header: {
      path: pathInTar,
      type: 'file',
      mode: 0o644,
      uid: 0,
      gid: 0,
      size: bytes.length,
      mtime: 0,
      ...extra,
    },
    content: bytes,
  };
}

/** A raw archive from headers, without any of writeTar's checks (to craft hostile input). */
function rawArchive(...entries: { header: TarHeader; content: Buffer }[]): Buffer {
  const parts: Buffer[] = [];
  for (const { header, content } of entries) {
    parts.push(encodeHeader(header), content, Buffer.alloc((512 - (content.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

describe('tar format', () => {
  it('round-trips ustar, split long names, PAX names and link targets, and GNU tar agrees', async (t) => {
    const longDir = `${'d'.repeat(90)}/${'e'.repeat(60)}`;
    const unsplittable = 'x'.repeat(130);
    const unicode = 'modèles/größe-模型.onnx';
    const longTarget = `../${'t'.repeat(120)}`;
    const entries = [
      {
        header: {
          path: 'app',
          type: 'directory',
          mode: 0o755,
          uid: 0,
          gid: 0,
          size: 0,
          mtime: 0,
        } as TarHeader,
      },
      file('app/server.js', 'console.log(1)\n', { mode: 0o755 }),
      file(`${longDir}/file.txt`, 'long'),
      file(unsplittable, 'pax'),
      file(unicode, 'unicode', { uid: 1000, gid: 1000 }),
      {
        header: {
          path: 'link',
          type: 'symlink',
          mode: 0o777,
          uid: 0,
          gid: 0,
          size: 0,
          mtime: 0,
          linkpath: longTarget,
        } as TarHeader,
      },
    ];
    const archive = await collect(writeTar(entries));
    assert.equal(archive.length % 512, 0);

    const read = await entriesOf(archive);
    assert.deepEqual(
      read.map(({ header }) => [header.path, header.type, header.mode, header.uid, header.size]),
      [
        ['app', 'directory', 0o755, 0, 0],
        ['app/server.js', 'file', 0o755, 0, 15],
        [`${longDir}/file.txt`, 'file', 0o644, 0, 4],
        [unsplittable, 'file', 0o644, 0, 3],
        [unicode, 'file', 0o644, 1000, 7],
        ['link', 'symlink', 0o777, 0, 0],
      ],
    );
    assert.equal(read[5]!.header.linkpath, longTarget);
    assert.equal(read[4]!.content, 'unicode');

    const dir = tempDir(t);
    const tarFile = path.join(dir, 'a.tar');
    fs.writeFileSync(tarFile, archive);
    const listing = execFileSync('tar', ['-tf', tarFile], { encoding: 'utf8' }).trim().split('\n');
    assert.deepEqual(listing, [
      'app/',
      'app/server.js',
      `${longDir}/file.txt`,
      unsplittable,
      unicode,
      'link',
    ]);
    execFileSync('tar', ['-xf', tarFile, '-C', dir]);
    assert.equal(fs.readFileSync(path.join(dir, unicode), 'utf8'), 'unicode');
    assert.equal(fs.readlinkSync(path.join(dir, 'link')), longTarget);

    // The same entries give the same bytes.
    assert.deepEqual(await collect(writeTar(entries)), archive);
  });

  it('reads GNU tar archives, including GNU long names', async (t) => {
    const dir = tempDir(t);
    const deep = path.join(dir, 'src', 'n'.repeat(120));
    fs.mkdirSync(path.dirname(deep), { recursive: true });
    fs.writeFileSync(deep, 'gnu');
    const tarFile = path.join(dir, 'gnu.tar');
    execFileSync('tar', ['--format=gnu', '-cf', tarFile, '-C', path.join(dir, 'src'), '.']);
    const read = await entriesOf(fs.readFileSync(tarFile));
    const entry = read.find(({ header }) => header.path === 'n'.repeat(120));
    assert.ok(entry, JSON.stringify(read.map((r) => r.header.path)));
    assert.equal(entry.content, 'gnu');
  });

  for (const [name, header] of [
    ['a parent-directory path', { path: '../evil.sh' }],
    ['a path climbing out midway', { path: 'app/../../etc/cron.d/x' }],
    ['an absolute path', { path: '/etc/passwd' }],
    [
      'a hard link out of the archive',
      { path: 'ok', type: 'hardlink', linkpath: '../../etc/shadow', size: 0 },
    ],
    ['a hard link to an absolute path', { path: 'ok', type: 'hardlink', linkpath: '/etc/shadow', size: 0 }],
  ] as const) {
    it(`refuses ${name} with a one-line error`, async () => {
      const hostile = rawArchive(
        file('fine.txt', 'ok'),
        file('placeholder', 'x', header as Partial<TarHeader>),
      );
      await assert.rejects(entriesOf(hostile, 'upload.tar'), (error) => {
        assert.ok(isImageError(error, 'unsafe-path'), String(error));
        assert.match(error.line, /^upload\.tar: refusing entry '.*'; entries must be relative paths/);
        assert.ok(!error.line.includes('\n'));
        return true;
      });
    });
  }

  it('refuses an absolute path that GNU tar stored with -P', async (t) => {
    const dir = tempDir(t);
    const victim = path.join(dir, 'victim.txt');
    fs.writeFileSync(victim, 'x');
    const tarFile = path.join(dir, 'abs.tar');
    execFileSync('tar', ['-P', '-cf', tarFile, victim]);
    await assert.rejects(entriesOf(fs.readFileSync(tarFile), tarFile), (error) =>
      isImageError(error, 'unsafe-path'),
    );
  });

  it('refuses a corrupted header and a truncated archive', async () => {
    const good = rawArchive(file('a.txt', 'hello world'));
    const corrupt = Buffer.from(good);
    corrupt[0] = 'b'.charCodeAt(0);
    await assert.rejects(entriesOf(corrupt), (error) => {
      assert.ok(isImageError(error, 'malformed-tar'));
      assert.match(error.line, /checksum/);
      return true;
    });
    await assert.rejects(entriesOf(good.subarray(0, 520)), (error) => {
      assert.ok(isImageError(error, 'malformed-tar'));
      assert.match(error.line, /truncated/);
      return true;
    });
  });

  it('refuses content that does not match its header size (a file changed while building)', async (t) => {
    const dir = tempDir(t);
    const source = path.join(dir, 'grown.bin');
    fs.writeFileSync(source, 'ten bytes!');
    const entries = [
      {
        header: {
          path: 'grown.bin',
          type: 'file',
          mode: 0o644,
          uid: 0,
          gid: 0,
          size: 4,
          mtime: 0,
        } as TarHeader,
        source,
      },
    ];
    await assert.rejects(collect(writeTar(entries)), (error) => {
      assert.equal((error as { code?: string }).code, 'file-changed');
      assert.match((error as Error).message, /grown\.bin changed while the layer was built/);
      return true;
    });
  });
});
