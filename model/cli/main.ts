// ijepa CLI entry: parses the subcommand and hands its arguments to that command's module.
// Each command validates its own options (errors name the option and the allowed range)
// before any work starts.
import { readFileSync } from 'node:fs';
import { argv, exit } from 'node:process';
import { OptionError, type Command } from './options.ts';

// run resolves to an exit code (or nothing, meaning 0). Exit codes: 0 success, 1 a failure,
// 2 a usage error (an OptionError: bad option, stray argument), 128+n a signal n stopped the run.

const commands: Record<string, () => Promise<Command>> = {
  info: async () => (await import('./info.ts')).infoCommand,
  train: async () => (await import('./train.ts')).trainCommand,
  'check-step': async () => (await import('./check-step.ts')).checkStepCommand,
  eval: async () => (await import('./eval.ts')).evalCommand,
  embed: async () => (await import('./embed.ts')).embedCommand,
  import: async () => (await import('./import.ts')).importCommand,
  export: async () => (await import('./export.ts')).exportCommand,
  report: async () => (await import('./report.ts')).reportCommand,
};

function usage(): string {
  return [
    'usage: ijepa <command> [options]',
    '',
    'commands:',
    '  train        pretrain I-JEPA on Fashion-MNIST (default) or a folder of images',
    '  check-step   run one step from a PyTorch step bundle and report the errors per group',
    '  eval         kNN, linear-probe and low-shot accuracy of frozen features vs random init and pixels',
    '  embed        write frozen encoder features of a folder of images (.safetensors or .npy)',
    '  info         print the WebGPU adapter, its features and limits',
    '  import       convert an official .pth.tar or (Hugging Face) safetensors file into a checkpoint',
    '  export       write a checkpoint as an official .pth.tar or as safetensors',
    '  report       write RUN_DIR/report/index.html: curves, probe results, masks, feature PCA',
    '',
    'Run `ijepa <command> --help` for the options of a command; `ijepa --version` prints the version.',
  ].join('\n');
}

const [name, ...rest] = argv.slice(2);
if (!name) { // a usage error: the usage goes to stderr and the exit code is 2, as for an unknown command
  console.error(`ijepa: name a command\n\n${usage()}`);
  exit(2);
}
if (name === '--help' || name === '-h' || name === 'help') {
  console.log(usage());
  exit(0);
}
if (name === '--version' || name === '-V') {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string; };
  console.log(`ijepa ${pkg.version}`);
  exit(0);
}
const load = commands[name];
if (!load) {
  console.error(`ijepa: unknown command '${name}'\n\n${usage()}`);
  exit(2);
}
try {
  exit((await (await load()).run(rest)) ?? 0);
} catch (e) {
  const err = e as Error;
  console.error(`ijepa ${name}: ${err.message}`);
  if (process.env.IJEPA_DEBUG) console.error(err.stack);
  exit(e instanceof OptionError ? 2 : 1);
}
