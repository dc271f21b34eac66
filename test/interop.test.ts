// Checkpoint interop (model/interop/): the pickle reader refuses code, the zip and pickle writers
// round-trip, the official layout equals what the modules register, and against PyTorch goldens
// (test/golden/make_interop.py): an official .pth.tar and an HF IJepaModel safetensors file import
// into our format and our encoder reproduces PyTorch's features; `export --to pth` is read back by
// torch.load + load_state_dict(strict=True) (registered as skipped without /usr/bin/python3 + torch).
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeSafetensors, fromArray, noGrad, tidy } from '../engine/index.ts';
import { loadCheckpoint } from '../model/checkpoint.ts';
import { IJepa } from '../model/ijepa.ts';
import { PickleError, PyDict, PyFloat, PyTuple, TorchFile, ZipReader, crc32, exportCheckpoint, importCheckpoint, officialLayout, pickle,
  readTrainState, unpickle, writeZip } from '../model/interop/index.ts';
import { derivePreset, getPreset, type ModelConfig } from '../model/presets.ts';
import { exportCommand } from '../model/cli/export.ts';
import { importCommand } from '../model/cli/import.ts';
import { checkLeaks, suite } from './helpers.ts';
import { skipUnless } from './skips.ts';
import { deflatedZip } from './fixtures/deflated-zip.ts';

const GOLD = join(import.meta.dirname, 'golden', 'interop');
const PTH = join(GOLD, 'official-micro.pth.tar');
const HF = join(GOLD, 'hf-encoder.safetensors');
const BIN = join(import.meta.dirname, '..', 'bin', 'ijepa.mjs');
const PY = '/usr/bin/python3';
const tmp = mkdtempSync(join(tmpdir(), 'ijepa-interop-'));

// make_interop.py's CONFIG, as a preset: the micro preset with its shape overridden
const SHAPE = { imgSize: 16, patchSize: 4, dim: 16, depth: 2, heads: 2, predDepth: 1, predDim: 8 };
const preset = derivePreset(getPreset('micro'), { name: 'interop-golden', model: SHAPE });
const gold = decodeSafetensors(readFileSync(join(GOLD, 'features.safetensors')), 'features.safetensors');
const goldF32 = (k: string) => gold.tensors.get(k)!.toFloat32();

// find_spec instead of `import torch`: the import alone takes seconds here
const hasTorch = spawnSync(PY, ['-c', "import importlib.util, sys; sys.exit(0 if importlib.util.find_spec('torch') else 1)"]).status === 0;

/** max|a − b| / max|b| */
function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let e = 0, m = 0;
  for (let i = 0; i < b.length; i++) {
    e = Math.max(e, Math.abs(a[i]! - b[i]!));
    m = Math.max(m, Math.abs(b[i]!));
  }
  return e / m;
}

/** Our encoder / target encoder (WebGPU, f32) on the golden images, from one of our checkpoints. */
async function features(ckpt: string): Promise<Record<'encoder' | 'target_encoder', Float32Array>> {
  const model = new IJepa(preset.model);
  try {
    await loadCheckpoint(ckpt, Object.fromEntries(model.modules()), model.optimizer);
    const imgs = gold.tensors.get('imgs')!;
    const out = {} as Record<'encoder' | 'target_encoder', Float32Array>;
    for (const net of ['encoder', 'target_encoder'] as const) {
      const y = noGrad(() => tidy(() => model[net]!.forward(fromArray(imgs.toFloat32(), imgs.shape))));
      out[net] = Float32Array.from(await y.data());
      y.dispose();
    }
    return out;
  } finally {
    model.dispose();
  }
}

const expectThrow = async (fn: () => Promise<unknown>, re: RegExp): Promise<Error> => {
  try {
    await fn();
  } catch (e) {
    assert.match((e as Error).message, re);
    return e as Error;
  }
  assert.unreachable(`expected an error matching ${re}`);
  throw new Error('unreachable');
};

// ---- pickle and zip -----------------------------------------------------------------------------

const pk = suite('interop: pickle and zip');

pk('a GLOBAL naming os.system is refused before anything runs, naming it', () => {
  // protocol 0, the classic payload: os.system('echo pwned')
  const p0 = new TextEncoder().encode("cos\nsystem\n(S'echo pwned'\ntR.");
  // protocol 2 with STACK_GLOBAL-free GLOBAL, and protocol 4's STACK_GLOBAL for builtins.eval
  const p2 = Uint8Array.from([0x80, 2, ...new TextEncoder().encode('cposix\nsystem\nX'), 4, 0, 0, 0, ...new TextEncoder().encode('ls /'), 0x85, 0x52,
    0x2e]);
  const p4 = Uint8Array.from([0x80, 4, 0x8c, 8, ...new TextEncoder().encode('builtins'), 0x8c, 4, ...new TextEncoder().encode('eval'), 0x93, 0x2e]);
  let called = 0;
  const globals = { 'collections.OrderedDict': { call: () => {
    called++;
    return null;
  } } };
  for (const [bytes, name] of [[p0, 'os.system'], [p2, 'posix.system'], [p4, 'builtins.eval']] as const) {
    try {
      unpickle(bytes, { source: 'evil.pkl', globals });
      assert.unreachable('must throw');
    } catch (e) {
      assert.instance(e, PickleError);
      assert.match((e as Error).message, new RegExp(
        `evil\\.pkl: pickle byte \\d+: refusing to load the global ${name.replace('.', '\\.')}: only collections\\.OrderedDict are allowed`,
      ));
    }
  }
  assert.is(called, 0);
});

pk('a .pth.tar whose data.pkl calls os.system is rejected naming the file and the global', async () => {
  const path = join(tmp, 'evil.pth.tar');
  await writeZip(path, [
    { name: 'evil/data.pkl', data: new TextEncoder().encode("cos\nsystem\n(S'touch /tmp/pwned'\ntR.") },
    { name: 'evil/version', data: new TextEncoder().encode('3\n') },
  ]);
  await expectThrow(() => TorchFile.open(path),
    /evil\.pth\.tar \(evil\/data\.pkl\): pickle byte 0: refusing to load the global os\.system: only collections\.OrderedDict, torch\._utils\._rebuild_tensor_v2/);
  await expectThrow(() => importCheckpoint({ from: path, preset, out: join(tmp, 'x.safetensors') }), /refusing to load the global os\.system/);
});

pk('pickle → unpickle round-trips the values a checkpoint holds', () => {
  const v = new PyDict(false, [
    ['ints', [0, 1, 255, 256, 65535, 65536, -1, -129, 2 ** 31 - 1, -(2 ** 31), 2 ** 40, -(2 ** 40)]],
    ['big', 2n ** 70n],
    ['floats', [0.5, -1e-8, new PyFloat(0), new PyFloat(3)]],
    ['str', 'Grüße ∑'],
    ['bytes', Uint8Array.of(0, 1, 254)],
    ['tuple', new PyTuple([new PyTuple([]), new PyTuple([1]), new PyTuple([1, 2, 3, 4])])],
    ['flags', [true, false, null]],
    [7, new PyDict(true, [['a', 1]])],
  ]);
  const back = unpickle(pickle(v), { source: 'rt', globals: { 'collections.OrderedDict': { call: () => new PyDict(true) } } }) as PyDict;
  assert.equal(back.get('ints'), [0, 1, 255, 256, 65535, 65536, -1, -129, 2 ** 31 - 1, -(2 ** 31), 2 ** 40, -(2 ** 40)]);
  assert.is(back.get('big'), 2n ** 70n);
  assert.equal(back.get('floats'), [0.5, -1e-8, 0, 3]);
  assert.is(back.get('str'), 'Grüße ∑');
  assert.equal([...(back.get('bytes') as Uint8Array)], [0, 1, 254]);
  const t = back.get('tuple') as PyTuple;
  assert.equal(t.items.map((x) => (x as PyTuple).items.length), [0, 1, 4]);
  assert.equal(back.get('flags'), [true, false, null]);
  const od = back.get(7) as PyDict;
  assert.ok(od instanceof PyDict && od.ordered && od.get('a') === 1);
  // a key named __proto__ is just a key
  const proto = unpickle(pickle(new PyDict(false, [['__proto__', 1]])), { source: 'p', globals: {} }) as PyDict;
  assert.is(proto.get('__proto__'), 1);
  assert.is(({} as Record<string, unknown>).polluted, undefined);
});

pk('pickle errors name the opcode and byte', () => {
  assert.throws(() => unpickle(Uint8Array.of(0x80, 2, 0x49, 0x2e), { source: 's', globals: {} }),
    /s: pickle byte 2: unsupported opcode 0x49 \('I'\)/);
  assert.throws(() => unpickle(Uint8Array.of(0x80, 2, 0x58, 9, 0, 0, 0, 0x41), { source: 's', globals: {} }), /needs 9 more bytes/);
  assert.throws(() => unpickle(Uint8Array.of(0x80, 2, 0x4e, 0x51, 0x2e), { source: 's', globals: {} }), /persistent ids are not allowed/);
  assert.throws(() => pickle({ pyType: 'thing' }), /no way to write a thing/);
});

pk('zip: CRC-32 check value, aligned stored entries, corruption detected', async () => {
  assert.is(crc32(new TextEncoder().encode('123456789')), 0xcbf43926);
  const path = join(tmp, 'a.zip');
  const big = Uint8Array.from({ length: 1000 }, (_, i) => i % 251);
  await writeZip(path, [{ name: 'r/x', data: Uint8Array.of(1, 2, 3) }, { name: 'r/data/0', data: big }]);
  const z = await ZipReader.open(path);
  try {
    assert.equal([...z.entries.keys()], ['r/x', 'r/data/0']);
    assert.equal([...await z.read('r/x')], [1, 2, 3]);
    assert.equal(await z.read('r/data/0'), big);
  } finally {
    await z.close();
  }
  // the ZIP64 records (needed past 4 GiB, as in released ViT-H checkpoints) read back the same
  const p64 = join(tmp, 'a64.zip');
  await writeZip(p64, [{ name: 'r/x', data: Uint8Array.of(1, 2, 3) }, { name: 'r/data/0', data: big }], { forceZip64: true });
  const z64 = await ZipReader.open(p64);
  try {
    assert.equal(await z64.read('r/data/0'), big);
    assert.is(z64.entries.get('r/data/0')!.size, 1000);
  } finally {
    await z64.close();
  }
  const raw = readFileSync(path);
  const at = raw.indexOf(Buffer.from(big.subarray(0, 16)));
  assert.is(at % 64, 0, 'storage data starts on a 64-byte boundary, as torch writes it');
  raw[at + 10]! ^= 0xff;
  writeFileSync(path, raw);
  const z2 = await ZipReader.open(path);
  try {
    await expectThrow(() => z2.read('r/data/0'), /a\.zip: entry r\/data\/0 fails its CRC-32 check/);
  } finally {
    await z2.close();
  }
});

pk('zip bomb: inflation stops at the declared size, impossible ratios and a total past the cap are refused, naming file and entry', async () => {
  const bomb = join(tmp, 'bomb.pth.tar');
  // 8 MiB of zeros deflate to about 8 KB; the directory says 100 bytes
  writeFileSync(bomb, deflatedZip([{ name: 'archive/data.pkl', data: new Uint8Array(8 << 20), declared: 100 }]));
  const z = await ZipReader.open(bomb);
  try {
    await expectThrow(() => z.read('archive/data.pkl'),
      /bomb\.pth\.tar: entry archive\/data\.pkl inflates past the 100 bytes its directory entry declares/);
  } finally {
    await z.close();
  }
  await expectThrow(() => importCheckpoint({ from: bomb, preset, out: join(tmp, 'bomb-out.safetensors') }),
    /bomb\.pth\.tar: entry archive\/data\.pkl inflates past the 100 bytes/);
  // a claim no deflate stream can reach from its compressed size is refused before inflating
  const liar = join(tmp, 'liar.zip');
  writeFileSync(liar, deflatedZip([{ name: 'r/x', data: new Uint8Array(1000), declared: 2 ** 31 }]));
  const zl = await ZipReader.open(liar);
  try {
    await expectThrow(() => zl.read('r/x'), /liar\.zip: entry r\/x declares 2147483648 bytes from \d+ compressed, more than deflate can produce/);
  } finally {
    await zl.close();
  }
  // honest entries, but more in all than the reader may return
  const many = join(tmp, 'many.zip');
  writeFileSync(many, deflatedZip([{ name: 'r/a', data: new Uint8Array(1000).fill(1) }, { name: 'r/b', data: new Uint8Array(1000).fill(2) }]));
  const zm = await ZipReader.open(many, { maxTotalBytes: 1500 });
  try {
    assert.equal(await zm.read('r/a'), new Uint8Array(1000).fill(1));
    await expectThrow(() => zm.read('r/b'),
      /many\.zip: entry r\/b \(1000 bytes\) would bring the bytes read from this archive to 2000, past the cap of 1500/);
  } finally {
    await zm.close();
  }
});

pk.run();

// ---- layout -------------------------------------------------------------------------------------

const ly = suite('interop: official layout');
checkLeaks(ly);

ly('equals the names and shapes IJepa registers, for several configs and both targets', () => {
  const configs: [ModelConfig, 'features' | 'pixels'][] = [
    [preset.model, 'features'],
    [getPreset('micro').model, 'features'],
    [getPreset('small-recipe').model, 'pixels'],
    [{ ...getPreset('micro').model, heads: 4, mlpRatio: 2, depth: 3, predDepth: 3 }, 'features'],
  ];
  for (const [cfg, target] of configs) {
    const model = new IJepa(cfg, { target });
    try {
      const want = officialLayout(cfg, target);
      for (const [net, m] of model.modules()) {
        const got = m.namedTensors().map(([n, t]) => `${n} [${t.shape.join(', ')}]`);
        const specs = net === 'target_encoder' ? want.target_encoder! : want[net as 'encoder' | 'predictor'];
        assert.equal(specs.map((s) => `${s.name} [${s.shape.join(', ')}]`), got, `${net} (${target})`);
      }
      assert.is(want.target_encoder === null, model.target_encoder === null);
    } finally {
      model.dispose();
    }
  }
});

ly.run();

// ---- against PyTorch ----------------------------------------------------------------------------

const pt = suite('interop: PyTorch goldens');
checkLeaks(pt);
pt.after(() => rmSync(tmp, { recursive: true, force: true }));

pt('an official .pth.tar imports; encoder and target encoder match PyTorch (rel err < 1e-5)', async () => {
  const out = join(tmp, 'from-pth.safetensors');
  const r = await importCheckpoint({ from: PTH, preset, out });
  assert.is(r.format, 'pth');
  assert.equal(r.sources, { encoder: 'file', target_encoder: 'file', predictor: 'file' });
  assert.equal(r.opt, { tensors: 47, step: 2 });
  const f = await features(out);
  for (const net of ['encoder', 'target_encoder'] as const) {
    const e = relErr(f[net], goldF32(`features/${net}`));
    assert.ok(e < 1e-5, `${net}: rel err ${e}`);
  }
  // the two encoders differ (EMA), so a swap would show
  assert.ok(relErr(goldF32('features/encoder'), goldF32('features/target_encoder')) > 1e-3);
});

pt('the official AdamW state lands on the right tensors (one per group), with its step', async () => {
  const ts = await readTrainState(join(tmp, 'from-pth.safetensors'));
  const names = [...gold.tensors.keys()].filter((k) => k.startsWith('opt/'));
  assert.is(names.length, 8);
  for (const k of names) {
    const [, kind, net, ...rest] = k.split('/');
    const s = ts.opt.get(`${net}/${rest.join('/')}`);
    assert.ok(s, `${k} imported`);
    assert.equal(kind === 'exp_avg' ? s.m.data : s.v.data, goldF32(k), k);
    assert.is(s.step, 2);
  }
  assert.ok(!ts.opt.has('encoder/pos_embed') && !ts.opt.has('predictor/predictor_pos_embed'));
  assert.equal(ts.state?.imported?.epoch, 1);
});

pt('an HF IJepaModel safetensors imports as the encoder (q/k/v → qkv) and matches PyTorch', async () => {
  const out = join(tmp, 'from-hf.safetensors');
  const r = await importCheckpoint({ from: HF, preset, out });
  assert.is(r.format, 'hf-safetensors');
  assert.equal(r.sources, { encoder: 'file', target_encoder: 'copy of the encoder', predictor: 'fresh init (seed 0)' });
  const f = await features(out);
  const e = relErr(f.encoder, goldF32('features/encoder'));
  assert.ok(e < 1e-5, `rel err ${e}`);
});

pt('a preset that does not fit names the file, the tensor, both shapes and what the file looks like', async () => {
  const err = await expectThrow(() => importCheckpoint({ from: PTH, preset: getPreset('micro'), out: join(tmp, 'no.safetensors') }),
    /official-micro\.pth\.tar: encoder pos_embed is \[1, 16, 16\], the model wants \[1, 16, 64\]/);
  assert.match(err.message,
    /the file looks like: dim 16, depth 2, patch size 4, channels 3, image size 16, mlp ratio 4, predictor dim 8, predictor depth 1/);
  await expectThrow(() => importCheckpoint({ from: HF, preset: derivePreset(preset, { model: { depth: 3 } }), out: join(tmp, 'no.safetensors') }),
    /hf-encoder\.safetensors: encoder tensor blocks\.2\.norm1\.weight is missing/);
});

const exportedPth = join(tmp, 'exported.pth.tar');
pt('export --to pth writes the official layout (read back by our own reader)', async () => {
  const out = exportedPth;
  await exportCheckpoint({ checkpoint: join(tmp, 'from-pth.safetensors'), to: 'pth', out });
  const tf = await TorchFile.open(out);
  try {
    const root = tf.root as PyDict;
    assert.equal([...root.keys()], ['encoder', 'predictor', 'target_encoder', 'opt', 'scaler', 'epoch', 'loss', 'batch_size', 'world_size', 'lr']);
    assert.ok([...(root.get('encoder') as PyDict).keys()].every((k) => String(k).startsWith('module.')));
    assert.is(root.get('epoch'), 1);
  } finally {
    await tf.close();
  }
});

skipUnless(pt, hasTorch, 'python3-torch', `${PY} cannot import torch (bash scripts/setup.sh --test installs it)`)(
  'export --to pth is read by torch.load and load_state_dict(strict=True), features and AdamW state intact',
  () => {
    // the file the test above wrote and checked
    const r = spawnSync(PY, [join(import.meta.dirname, 'golden', 'make_interop.py'), 'check-export', exportedPth], { encoding: 'utf8',
      timeout: 120_000 });
    assert.is(r.status, 0, r.stderr + r.stdout);
    const res = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Record<string, number | number[]>;
    assert.ok((res.rel_err_encoder as number) < 1e-5 && (res.rel_err_target_encoder as number) < 1e-5, r.stdout);
    assert.is(res.opt_moment_err, 0);
    assert.is(res.opt_states, 47);
    assert.equal(res.opt_steps, [2]);
    assert.is(res.batch_size, 2);
  },
);

pt('export --to safetensors and --to hf import back to the same tensors', async () => {
  const src = join(tmp, 'from-pth.safetensors');
  const a = await readTrainState(src);
  for (const to of ['safetensors', 'hf'] as const) {
    const file = join(tmp, `exported-${to}.safetensors`);
    await exportCheckpoint({ checkpoint: src, to, out: file });
    const back = join(tmp, `back-${to}.safetensors`);
    await importCheckpoint({ from: file, preset, out: back });
    const b = await readTrainState(back);
    const nets = to === 'hf' ? (['encoder'] as const) : (['encoder', 'predictor', 'target_encoder'] as const);
    for (const net of nets) {
      for (const [name, t] of a.nets[net]!) assert.equal(b.nets[net]!.get(name)!.data, t.data, `${to}: ${net} ${name}`);
    }
  }
});

pt('the CLI runs import and export end to end', async () => {
  const ck = join(tmp, 'cli.safetensors');
  const shape = ['--img-size', '16', '--patch-size', '4', '--dim', '16', '--depth', '2', '--heads', '2', '--pred-depth', '1', '--pred-dim', '8'];
  let r = spawnSync(process.execPath, [BIN, 'import', '--from', PTH, '--preset', 'micro', ...shape, '--out', ck], { encoding: 'utf8',
    timeout: 60_000 });
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /imported .*official-micro\.pth\.tar \(pth\)[\s\S]*AdamW moments for 47 tensors \(step 2\)/);
  // --out into a folder that does not exist yet: it is created
  const teOut = join(tmp, 'new', 'folder', 'cli-te.safetensors');
  r = spawnSync(process.execPath, [BIN, 'export', '--checkpoint', ck, '--to', 'safetensors', '--net', 'target_encoder', '--out', teOut], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.is(r.status, 0, r.stderr);
  const te = decodeSafetensors(readFileSync(teOut));
  assert.ok(te.tensors.has('blocks.1.attn.qkv.weight') && te.tensors.has('pos_embed'));
  // --to pth also writes the official yaml beside it, naming that file as the one to continue from
  const pthOut = join(tmp, 'official', 'jepa-latest.pth.tar');
  r = spawnSync(process.execPath, [BIN, 'export', '--checkpoint', ck, '--to', 'pth', '--out', pthOut], { encoding: 'utf8', timeout: 60_000 });
  assert.is(r.status, 0, r.stderr);
  assert.ok(r.stdout.includes(`note: wrote ${join(tmp, 'official', 'jepa-latest.yaml')}`), r.stdout);
  const yaml = JSON.parse(readFileSync(join(tmp, 'official', 'jepa-latest.yaml'), 'utf8'));
  assert.equal([yaml.meta.read_checkpoint, yaml.logging.folder, yaml.mask.patch_size, yaml.data.crop_size], ['jepa-latest.pth.tar',
    join(tmp, 'official'), 4, 16]);
  await expectThrow(() => exportCommand.run(['--to', 'pth', '--out', join(tmp, 'x.pth.tar')]), /give exactly one of --run DIR and --checkpoint FILE/);
  await expectThrow(() => exportCommand.run(['--checkpoint', ck, '--to', 'pth', '--net', 'encoder', '--out', join(tmp, 'x.pth.tar')]),
    /--net: a \.pth\.tar always holds every net/);
  await expectThrow(() => importCommand.run(['--from', PTH, '--out', ck]), /--preset is required/);
});

pt.run();
