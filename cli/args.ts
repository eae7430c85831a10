/**
 * Command-line arguments: each command declares its positionals and options as data
 * (`ArgsSpec`), and this module parses them with Node's own `util.parseArgs` and renders
 * `--help` from the same data.
 *
 * Why not yargs (which the CLI used first): importing yargs costs about 160 ms of start
 * time on the project's machines, more than Node itself takes to start, and `hotpatch
 * --help` / `hotpatch pe FILE` must start within 150 ms. `parseArgs` is built into Node
 * (>= 18.3), so this module adds no dependency and loads nothing. What it adds over
 * `parseArgs`: typed values (number), defaults, required options and positionals,
 * `--no-FLAG` for boolean options, mutually exclusive options, and the help text.
 *
 * Errors are values (`UsageError`): the caller prints one line `hotpatch: USAGE: ...` and
 * exits 2.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';

export interface OptionSpec {
  readonly type: 'string' | 'boolean' | 'number';
  readonly describe: string;
  /** A one-letter short form (`-o`). */
  readonly alias?: string;
  /** Repeatable: the value is the list of every occurrence. */
  readonly array?: boolean;
  readonly default?: string | boolean | number | readonly string[];
  readonly demandOption?: boolean;
}

export interface PositionalSpec {
  readonly describe: string;
  readonly default?: string;
  /** Variadic (`[name..]` in the command string): the value is a list. */
  readonly array?: boolean;
}

/** What a command accepts besides the global options (`--json`, `--help`). */
export interface ArgsSpec {
  /** By name; their order, and which are required or variadic, come from the command string. */
  readonly positionals?: Readonly<Record<string, PositionalSpec>>;
  readonly options?: Readonly<Record<string, OptionSpec>>;
  /** Pairs of options that exclude each other. */
  readonly conflicts?: readonly (readonly [string, string])[];
  /** A paragraph printed at the end of the command's help. */
  readonly epilog?: string;
}

type OptionValue<O extends { readonly type: string }> = O['type'] extends 'boolean' ? boolean : O['type'] extends 'number' ? number : string;
type OptionArg<O extends { readonly type: string }> = O extends { readonly array: true } ? OptionValue<O>[] : OptionValue<O>;
type OptionArgv<O extends OptionSpec> = [O] extends [{ readonly default: unknown } | { readonly demandOption: true }] ? OptionArg<O> : OptionArg<O> | undefined;

/**
 * The parsed arguments a spec gives, by name: a command's `run` gets this type without
 * declaring it twice. Positionals are strings (required, or defaulted), lists when variadic.
 */
export type ArgvOf<S extends ArgsSpec> = {
  -readonly [K in keyof S['options']]: S['options'][K] extends OptionSpec ? OptionArgv<S['options'][K]> : never;
} & {
  -readonly [K in keyof S['positionals']]: S['positionals'][K] extends { readonly array: true } ? string[] : string;
};

/** A positional slot of a command string: `<file>` required, `[scenario]` optional, `[sections..]` variadic. */
interface Slot {
  readonly name: string;
  readonly required: boolean;
  readonly variadic: boolean;
}

export interface UsageError {
  readonly usage: string;
}

/** The options every command accepts. */
export const GLOBAL_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  json: { type: 'boolean', default: false, describe: 'machine-readable output on stdout' },
  help: { type: 'boolean', alias: 'h', describe: 'show help' },
};

/** The positional slots of a command string (`'verify <old> <new> <patch>'`). */
export function slotsOf(command: string): Slot[] {
  return command
    .split(' ')
    .slice(1)
    .map((token) => {
      const required = token.startsWith('<');
      const inner = token.slice(1, -1);
      const variadic = inner.endsWith('..');
      return { name: variadic ? inner.slice(0, -2) : inner, required, variadic };
    });
}

function usageLine(command: string): string {
  return `hotpatch ${command}${command.includes('[options]') ? '' : ' [options]'}`;
}

/**
 * `--no-NAME` for a boolean option NAME becomes `NAME: false` (Node 20's parseArgs has no
 * negation), and a number option followed by a negative number takes it as its value
 * (`--pid -3` reaches the command, which says why -3 is no pid).
 */
function normalise(args: readonly string[], options: Readonly<Record<string, OptionSpec>>): { args: string[]; negated: Set<string> } {
  const out: string[] = [];
  const negated = new Set<string>();
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') {
      out.push(...args.slice(i));
      break;
    }
    const name = a.startsWith('--') ? a.slice(2) : undefined;
    if (name?.startsWith('no-') && options[name.slice(3)]?.type === 'boolean' && options[name] === undefined) {
      negated.add(name.slice(3));
      continue;
    }
    const next = args[i + 1];
    if (name !== undefined && options[name]?.type === 'number' && next !== undefined && /^-\d/.test(next)) {
      out.push(`${a}=${next}`);
      i++;
      continue;
    }
    out.push(a);
  }
  return { args: out, negated };
}

function parseConfig(options: Readonly<Record<string, OptionSpec>>): NonNullable<ParseArgsConfig['options']> {
  const config: NonNullable<ParseArgsConfig['options']> = {};
  for (const [name, o] of Object.entries(options)) {
    config[name] = {
      type: o.type === 'boolean' ? 'boolean' : 'string',
      ...(o.array === true ? { multiple: true } : {}),
      ...(o.alias !== undefined ? { short: o.alias } : {}),
    };
  }
  return config;
}

/** parseArgs' error, as one short line. */
function parseErrorText(e: unknown): string {
  const err = e as { code?: string; message?: string };
  const message = (err.message ?? 'cannot read the arguments').split('\n')[0]!;
  if (err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    const option = /'([^']+)'/.exec(message)?.[1];
    return option === undefined ? message : `unknown option ${option}`;
  }
  return message.replace(/\. To specify .*$/, '');
}

function typed(o: OptionSpec, value: string | boolean | (string | boolean)[]): unknown {
  if (o.type !== 'number') return value;
  const toNumber = (v: string | boolean): number => (typeof v === 'string' && v.trim() !== '' ? Number(v) : Number.NaN);
  return Array.isArray(value) ? value.map(toNumber) : toNumber(value);
}

/**
 * The arguments after the command name, as an object keyed by option and positional name
 * (kebab-case, as declared), with defaults filled in; or a usage error.
 */
export function parseCommandArgs(command: string, spec: ArgsSpec, args: readonly string[]): { ok: true; value: Record<string, unknown> } | { ok: false; error: UsageError } {
  const options = { ...GLOBAL_OPTIONS, ...spec.options };
  const { args: normalised, negated } = normalise(args, options);
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: normalised, options: parseConfig(options), strict: true, allowPositionals: true });
  } catch (e) {
    return { ok: false, error: { usage: parseErrorText(e) } };
  }
  const argv: Record<string, unknown> = {};
  for (const [name, o] of Object.entries(options)) {
    const value = parsed.values[name];
    if (negated.has(name)) argv[name] = false;
    else if (value !== undefined) argv[name] = typed(o, value);
    else if (o.default !== undefined) argv[name] = Array.isArray(o.default) ? [...o.default] : o.default;
    if (o.demandOption === true && argv[name] === undefined) return { ok: false, error: { usage: `missing required option --${name} (${usageLine(command)})` } };
  }
  for (const [a, b] of spec.conflicts ?? []) {
    if (parsed.values[a] !== undefined && parsed.values[b] !== undefined) return { ok: false, error: { usage: `--${a} and --${b} exclude each other` } };
  }
  const rest = [...parsed.positionals];
  for (const slot of slotsOf(command)) {
    const fallback = spec.positionals?.[slot.name]?.default;
    if (slot.variadic) argv[slot.name] = rest.splice(0);
    else if (rest.length > 0) argv[slot.name] = rest.shift();
    else if (fallback !== undefined) argv[slot.name] = fallback;
    if (slot.required && (argv[slot.name] === undefined || (slot.variadic && (argv[slot.name] as unknown[]).length === 0))) {
      return { ok: false, error: { usage: `missing <${slot.name}> (${usageLine(command)})` } };
    }
  }
  if (rest.length > 0) return { ok: false, error: { usage: `unexpected argument ${rest[0]} (${usageLine(command)})` } };
  return { ok: true, value: argv };
}

/** True when the arguments ask for help (`--help` or `-h` before any `--`). */
export function wantsHelp(args: readonly string[]): boolean {
  for (const a of args) {
    if (a === '--') return false;
    if (a === '--help' || a === '-h') return true;
  }
  return false;
}

/** Rows of two columns, the first padded to its widest cell. */
function table(rows: readonly (readonly [string, string])[]): string {
  const width = Math.max(0, ...rows.map(([left]) => left.length));
  return rows.map(([left, right]) => `  ${left.padEnd(width)}  ${right}`.trimEnd()).join('\n');
}

function optionRow(name: string, o: OptionSpec): [string, string] {
  const flag = `${o.alias !== undefined ? `-${o.alias}, ` : '    '}--${name}${o.type === 'boolean' ? '' : o.type === 'number' ? ' N' : ' VALUE'}`;
  const notes = [
    o.array === true ? 'repeatable' : '',
    o.demandOption === true ? 'required' : '',
    o.default !== undefined && !(Array.isArray(o.default) && o.default.length === 0) ? `default: ${String(o.default)}` : '',
    o.type === 'boolean' && o.default === true ? `--no-${name} turns it off` : '',
  ].filter((n) => n !== '');
  return [flag, `${o.describe}${notes.length > 0 ? ` [${notes.join('; ')}]` : ''}`];
}

/** `hotpatch COMMAND --help`. */
export function commandHelp(command: string, describe: string, spec: ArgsSpec): string {
  const parts = [usageLine(command), '', describe];
  const slots = slotsOf(command);
  if (slots.length > 0) {
    const rows = slots.map((s): [string, string] => {
      const p = spec.positionals?.[s.name];
      const notes = [s.required ? 'required' : '', p?.default !== undefined ? `default: ${p.default}` : ''].filter((n) => n !== '');
      return [s.variadic ? `${s.name}..` : s.name, `${p?.describe ?? ''}${notes.length > 0 ? ` [${notes.join('; ')}]` : ''}`];
    });
    parts.push('', 'Arguments:', table(rows));
  }
  const options = { ...spec.options, ...GLOBAL_OPTIONS };
  parts.push('', 'Options:', table(Object.entries(options).map(([name, o]) => optionRow(name, o))));
  if (spec.epilog !== undefined) parts.push('', spec.epilog);
  return `${parts.join('\n')}\n`;
}

/** `hotpatch --help`: every command with its description. */
export function mainHelp(intro: string, commands: readonly { readonly command: string; readonly describe: string }[]): string {
  const rows = commands.map((c): [string, string] => [`hotpatch ${c.command}`, c.describe]);
  const options = Object.entries(GLOBAL_OPTIONS).map(([name, o]) => optionRow(name, o));
  return `hotpatch <command> [options]\n\n${intro}\n\nCommands:\n${table(rows)}\n\nOptions:\n${table(options)}\n\nhotpatch COMMAND --help shows a command's arguments and options.\n`;
}

/** Edit distance with adjacent transpositions (optimal string alignment), for "did you mean". */
function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

/** The known name closest to `word`, when it is close enough to be a typo. */
export function closestName(word: string, names: readonly string[]): string | undefined {
  let best: { name: string; d: number } | undefined;
  for (const name of names) {
    const d = distance(word, name);
    if (best === undefined || d < best.d) best = { name, d };
  }
  return best !== undefined && best.d <= Math.max(1, Math.floor(best.name.length / 3)) ? best.name : undefined;
}
