// options: a declarative option table per command. One table gives the parser (node:util
// parseArgs), the help text (every option with its default), and the range checks, so an
// out-of-range value is reported naming the option and the allowed range before any work.
import { parseArgs } from 'node:util';

export interface OptionSpec {
  type: 'string' | 'number' | 'integer' | 'boolean';
  help: string;
  default?: string | number | boolean;
  /** Inclusive numeric range. */
  min?: number;
  max?: number;
  /** Allowed string values. */
  choices?: readonly string[];
  short?: string;
  /** Shown instead of the default in help (e.g. "from the preset"). */
  defaultText?: string;
}

export type OptionTable = Record<string, OptionSpec>;

/** The value an option holds: its type's, or undefined when it has no default and argv does not set it. */
type ValueOf<S extends OptionSpec> = TypeValue<S['type']> | (S extends { default: string | number | boolean; } ? never : undefined);
type TypeValue<T extends OptionSpec['type']> = T extends 'boolean' ? boolean : T extends 'string' ? string : number;
/**
 * Parsed values by option name, typed from the table (declared `satisfies OptionTable`, so that
 * each entry keeps its literal `type` and whether it has a default); a table typed only as
 * OptionTable gives every option the union of all types.
 */
export type OptionValues<T extends OptionTable = OptionTable> = { [K in keyof T]: ValueOf<T[K]>; };

/** The entries of `table` named in `names`: a subset of a command's options to parse on their own. */
export function pick<T extends OptionTable, K extends keyof T & string>(table: T, names: readonly K[]): Pick<T, K> {
  return Object.fromEntries(names.map((k) => [k, table[k]])) as Pick<T, K>;
}

export class OptionError extends Error {
  override name = 'OptionError';
}

export function helpText(command: string, summary: string, table: OptionTable, usage = `ijepa ${command} [options]`): string {
  const lines = [`usage: ${usage}`, '', summary, '', 'options:'];
  for (const [name, o] of Object.entries(table)) {
    const flag = `  ${o.short ? `-${o.short}, ` : ''}--${name}${
      o.type === 'boolean' ? '' : ` <${o.choices ? o.choices.join('|') : o.type === 'string' ? 'value' : 'n'}>`
    }`;
    const dflt = o.defaultText ?? (o.default === undefined ? '' : String(o.default));
    lines.push(`${flag.padEnd(34)} ${o.help}${dflt ? ` (default: ${dflt})` : ''}`);
  }
  lines.push(`${'  -h, --help'.padEnd(34)} show this help`);
  return lines.join('\n');
}

/**
 * Parse and validate argv against the table; `help` is true when --help was given, `given` names
 * the options that argv set (the rest hold their defaults in `values`). A positional
 * argument is an error unless `allowPositionals` (a stray word would otherwise be ignored silently).
 */
export function parseOptions<T extends OptionTable>(command: string, table: T, argv: string[],
  allowPositionals = false): { values: OptionValues<T>; help: boolean; positionals: string[]; given: ReadonlySet<string>; }
{
  const config: Record<string, { type: 'string' | 'boolean'; short?: string; }> = { help: { type: 'boolean', short: 'h' } };
  for (const [name, o] of Object.entries(table)) {
    config[name] = { type: o.type === 'boolean' ? 'boolean' : 'string', ...(o.short ? { short: o.short } : {}) };
  }
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: config, allowPositionals: true, strict: true });
  } catch (e) {
    throw new OptionError(`${(e as Error).message.replace(/^.*?: /, '')}; see 'ijepa ${command} --help'`);
  }
  if (!allowPositionals && parsed.positionals.length > 0) {
    throw new OptionError(`unexpected argument '${parsed.positionals[0]}': ijepa ${command} takes only options; see 'ijepa ${command} --help'`);
  }
  const values: Record<string, string | number | boolean | undefined> = {};
  for (const [name, o] of Object.entries(table)) {
    const raw = parsed.values[name];
    if (raw === undefined) {
      values[name] = o.default;
      continue;
    }
    if (o.type === 'boolean') {
      values[name] = raw;
      continue;
    }
    const s = String(raw);
    if (o.type === 'string') {
      if (o.choices && !o.choices.includes(s)) throw new OptionError(`--${name} '${s}' is not one of ${o.choices.join(', ')}`);
      // every free string option is a path: an empty one would resolve to the current folder
      if (s.trim() === '') throw new OptionError(`--${name} '${s}' is empty: give a path`);
      values[name] = s;
      continue;
    }
    const v = Number(s);
    const range = `${o.min ?? '-∞'}..${o.max ?? '∞'}`;
    if (s.trim() === '' || !Number.isFinite(v) || (o.type === 'integer' && !Number.isInteger(v))) {
      throw new OptionError(`--${name} '${s}' must be ${o.type === 'integer' ? 'an integer' : 'a number'} in ${range}`);
    }
    if ((o.min !== undefined && v < o.min) || (o.max !== undefined && v > o.max)) {
      throw new OptionError(`--${name} ${v} is out of range: allowed ${range}`);
    }
    values[name] = v;
  }
  // which options the command line named (values also holds the defaults of the rest)
  const given = new Set(Object.keys(parsed.values).filter((k) => k !== 'help'));
  return { values: values as OptionValues<T>, help: parsed.values.help === true, positionals: parsed.positionals, given };
}

/** What a command's body gets: its options parsed against its table. */
export type ParsedOptions<T extends OptionTable> = ReturnType<typeof parseOptions<T>>;

/** An `ijepa` command as main.ts runs it: resolves to an exit code, or nothing for 0. */
export interface Command {
  summary: string;
  run(argv: string[]): Promise<void | number>;
}

/**
 * An `ijepa` command: parses its arguments against its option table (a bad option is an
 * OptionError, exit 2), answers `--help` from the table, and only then runs `body`.
 */
export function command<T extends OptionTable, R extends void | number>(
  spec: { name: string; summary: string; options: T; usage?: string; positionals?: boolean; },
  body: (parsed: ParsedOptions<T>) => Promise<R>,
): { summary: string; run(argv: string[]): Promise<R | undefined>; } {
  return {
    summary: spec.summary,
    async run(argv: string[]): Promise<R | undefined> {
      const parsed = parseOptions(spec.name, spec.options, argv, spec.positionals);
      if (!parsed.help) return body(parsed);
      console.log(helpText(spec.name, spec.summary, spec.options, spec.usage));
      return undefined;
    },
  };
}
