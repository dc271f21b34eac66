// `ijepa export`: one of our checkpoints (the newest of a run, or a given file) → an official
// .pth.tar (what src/train.py saves: torch.load-able, loads into the official modules after
// stripping `module.`, AdamW state included), safetensors with official names, or safetensors in
// Hugging Face IJepaModel naming. A host-side conversion (model/interop/convert.ts); no GPU.
import { existsSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { listCheckpoints, makeDirs } from '../node.ts';
import { exportCheckpoint, type ExportFormat } from '../interop/index.ts';
import { command, OptionError, type OptionTable } from './options.ts';

export const EXPORT_OPTIONS = {
  run: { type: 'string', help: 'run directory: export its newest checkpoint (and average the loss from its log.jsonl)' },
  checkpoint: { type: 'string', help: 'checkpoint file to export (instead of --run)' },
  to: { type: 'string', help: 'output format: official .pth.tar, official-name safetensors, or Hugging Face IJepaModel safetensors',
    choices: ['pth', 'safetensors', 'hf'] },
  out: { type: 'string', help: 'file to write' },
  net: { type: 'string', help: 'which net (safetensors: all nets prefixed by name, or one with bare names; hf: an encoder)',
    choices: ['all', 'encoder', 'predictor', 'target_encoder'], defaultText: 'all (safetensors), encoder (hf)' },
} satisfies OptionTable;

const SUMMARY = 'Export a checkpoint as an official I-JEPA .pth.tar or as safetensors.';
const USAGE = 'ijepa export --run DIR|--checkpoint FILE --to pth|safetensors|hf --out FILE [--net NAME]';

export const exportCommand = command({ name: 'export', summary: SUMMARY, options: EXPORT_OPTIONS, usage: USAGE },
  async ({ values: v }): Promise<void> => {
    if ((v.run === undefined) === (v.checkpoint === undefined)) {
      throw new OptionError("give exactly one of --run DIR and --checkpoint FILE; see 'ijepa export --help'");
    }
    for (const k of ['to', 'out'] as const) if (v[k] === undefined) throw new OptionError(`--${k} is required; see 'ijepa export --help'`);
    if (v.to === 'pth' && v.net !== undefined) throw new OptionError('--net: a .pth.tar always holds every net, as the official code saves it');
    let checkpoint: string;
    if (v.run !== undefined) {
      const run = resolve(String(v.run));
      const last = (await listCheckpoints(run)).at(-1);
      if (!last) throw new OptionError(`--run ${run}: no checkpoint (ckpt-*.safetensors) in it`);
      checkpoint = last.path;
    } else {
      checkpoint = resolve(String(v.checkpoint));
    }
    const log = join(dirname(checkpoint), 'log.jsonl');
    const out = resolve(String(v.out));
    // never over a run's own files, nor a name that a later --resume, eval --run or export --run
    // would take for the run's newest checkpoint
    if (out === checkpoint) throw new OptionError(`--out ${out} is the checkpoint being exported; write elsewhere`);
    const runFile = /^(ckpt-\d+\.safetensors|log\.jsonl|config\.json)$/.test(basename(out));
    if (runFile && (dirname(out) === dirname(checkpoint) || existsSync(join(dirname(out), 'config.json')))) {
      throw new OptionError(
        `--out ${out} is a run folder's own file name (checkpoints, log.jsonl, config.json); write elsewhere or under another name`,
      );
    }
    await makeDirs(dirname(out)); // --out into a folder that does not exist yet
    const r = await exportCheckpoint({
      checkpoint,
      to: v.to as ExportFormat,
      out,
      log: existsSync(log) ? log : null,
      ...(v.net !== undefined ? { net: v.net as 'all' | 'encoder' | 'predictor' | 'target_encoder' } : {}),
    });
    console.log(`exported ${checkpoint} → ${out} (${v.to})`);
    for (const n of r.notes) console.log(`  note: ${n}`);
  });
