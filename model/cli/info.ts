// `ijepa info`: what WebGPU adapter this machine gives us, with its features and limits.
import { deviceInfo, initWebGPU } from '../../engine/device/node.ts';
import { OptionError } from './options.ts';

export const infoCommand = {
  summary: 'print the WebGPU adapter, its features and limits',
  async run(args: string[]): Promise<void> {
    if (args.includes('--help')) {
      console.log('usage: ijepa info [--json]\n\n  --json   print one JSON object (default: a readable listing)');
      return;
    }
    const stray = args.find((a) => a !== '--json');
    if (stray !== undefined) throw new OptionError(`unexpected argument '${stray}'; ijepa info takes only --json`);
    await initWebGPU();
    const info = deviceInfo();
    const adapter = {
      vendor: info.adapter.vendor,
      architecture: info.adapter.architecture,
      device: info.adapter.device,
      description: info.adapter.description,
    };
    if (args.includes('--json')) {
      console.log(JSON.stringify({ adapter, features: info.features, limits: info.limits }, null, 2));
      return;
    }
    console.log('adapter');
    for (const [k, v] of Object.entries(adapter)) console.log(`  ${k.padEnd(28)} ${v || '-'}`);
    console.log('features');
    for (const f of info.features) console.log(`  ${f}`);
    console.log('limits');
    for (const [k, v] of Object.entries(info.limits).sort()) console.log(`  ${k.padEnd(44)} ${v}`);
  },
};
