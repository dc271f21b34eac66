// Tests for model/atomic-write.ts: content lands whole, an existing file is replaced, and a failed
// write leaves neither a temp file nor a changed target. (Crash-durability itself is not testable here.)

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { writeFileAtomic } from '../model/atomic-write.ts';

const t = suite('atomic-write');
let dir = '';
t.before.each(() => {
  dir = mkdtempSync(join(tmpdir(), 'atomic-'));
});
t.after.each(() => rmSync(dir, { recursive: true, force: true }));

t('writes bytes, strings and chunk lists, leaving no temp file', async () => {
  const p = join(dir, 'a.bin');
  await writeFileAtomic(p, new Uint8Array([1, 2, 3]));
  assert.equal([...readFileSync(p)], [1, 2, 3]);
  await writeFileAtomic(p, 'héllo');
  assert.is(readFileSync(p, 'utf8'), 'héllo');
  await writeFileAtomic(p, [new Uint8Array([9]), new Uint8Array(0), new Uint8Array([8, 7])]);
  assert.equal([...readFileSync(p)], [9, 8, 7]);
  assert.equal(readdirSync(dir), ['a.bin']);
});

t('concurrent writes to one path each land whole', async () => {
  const p = join(dir, 'c.bin');
  const a = new Uint8Array(1 << 20).fill(1);
  const b = new Uint8Array(1 << 20).fill(2);
  await Promise.all([writeFileAtomic(p, a), writeFileAtomic(p, b)]);
  const got = readFileSync(p);
  assert.is(got.length, 1 << 20);
  assert.ok(got.every((v) => v === got[0]), 'not a mix of the two writes');
  assert.equal(readdirSync(dir), ['c.bin']);
});

t('a failed rename removes the temp file and rethrows', async () => {
  const p = join(dir, 'target');
  mkdirSync(p); // renaming a file over a non-empty directory fails
  writeFileSync(join(p, 'keep'), 'x');
  try {
    await writeFileAtomic(p, 'data');
    assert.unreachable('should have thrown');
  } catch (e) {
    assert.match(String((e as Error).message), /EISDIR|ENOTEMPTY|EEXIST|EPERM/);
  }
  assert.equal(readdirSync(dir), ['target']);
  assert.equal(readdirSync(p), ['keep']);
});

t('a path that is a directory or a device is refused by name before anything is written', async () => {
  const sub = join(dir, 'empty'), fifo = join(dir, 'fifo');
  mkdirSync(sub); // an empty directory: rename(2) would replace it
  // a FIFO stands for a device (as root, the rename replaced /dev/full with a regular file)
  assert.is(spawnSync('mkfifo', [fifo]).status, 0, 'mkfifo');
  for (const p of [sub, fifo]) {
    try {
      await writeFileAtomic(p, 'data');
      assert.unreachable('should have thrown');
    } catch (e) {
      assert.match(String((e as Error).message),
        new RegExp(`^write ${p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: is (a directory|not a regular file)`));
    }
  }
  assert.ok(statSync(sub).isDirectory());
  assert.ok(statSync(fifo).isFIFO(), 'the FIFO is still one');
  assert.equal(readdirSync(dir).sort(), ['empty', 'fifo']);
});

t('a missing directory fails without side effects, naming the path', async () => {
  try {
    await writeFileAtomic(join(dir, 'nope', 'f'), 'x');
    assert.unreachable('should have thrown');
  } catch (e) {
    assert.match(String((e as Error).message), /^write .*nope\/f: ENOENT/);
  }
  assert.equal(readdirSync(dir), []);
});

t.run();
