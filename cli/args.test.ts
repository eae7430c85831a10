/**
 * cli/args.ts: the declared arguments parse to the values commands rely on, and every
 * malformed command line is one usage message (main.ts prints it with exit 2).
 */
import { describe, expect, it } from 'vitest';
import { closestName, commandHelp, parseCommandArgs, type ArgsSpec } from './args.ts';

const BUILD: ArgsSpec = {
  positionals: { old: { describe: 'old build' }, new: { describe: 'new build' } },
  options: {
    out: { alias: 'o', type: 'string', demandOption: true, describe: 'package' },
    trust: { type: 'string', array: true, default: [], describe: 'keys' },
    pid: { type: 'number', describe: 'process' },
    readme: { type: 'boolean', default: true, describe: 'rewrite the README' },
    'keep-packages': { type: 'string', describe: 'dir' },
    'from-packages': { type: 'string', describe: 'dir' },
  },
  conflicts: [['keep-packages', 'from-packages']],
};

const parse = (args: string[], command = 'build <old> <new>', spec = BUILD) => parseCommandArgs(command, spec, args);
const usage = (args: string[], command?: string): string => {
  const r = parse(args, command);
  if (r.ok) throw new Error(`expected a usage error for ${args.join(' ')}`);
  return r.error.usage;
};

describe('parseCommandArgs', () => {
  it('gives positionals by name, options by their long name, defaults, numbers and repeated options', () => {
    const r = parse(['a.dll', '-o', 'p.hpk', 'b.dll', '--trust', 'k1', '--trust=k2', '--pid', '42']);
    expect(r).toEqual({ ok: true, value: { old: 'a.dll', new: 'b.dll', out: 'p.hpk', trust: ['k1', 'k2'], pid: 42, readme: true, json: false } });
  });

  it('reads --no-FLAG for a boolean option and gives a number option its negative value', () => {
    const r = parse(['a', 'b', '-o', 'p', '--no-readme', '--pid', '-3', '--json']);
    expect(r.ok && r.value).toMatchObject({ readme: false, pid: -3, json: true });
  });

  it('passes a number option that is no number on as NaN, for the command to name', () => {
    const r = parse(['a', 'b', '-o', 'p', '--pid', 'abc']);
    expect(r.ok && Number.isNaN(r.value['pid'])).toBe(true);
  });

  it('refuses unknown options, missing and extra positionals, missing required options, conflicts', () => {
    expect(usage(['a', 'b', '-o', 'p', '--bogus'])).toBe('unknown option --bogus');
    expect(usage(['a', '-o', 'p'])).toBe('missing <new> (hotpatch build <old> <new> [options])');
    expect(usage(['a', 'b', 'c', '-o', 'p'])).toBe('unexpected argument c (hotpatch build <old> <new> [options])');
    expect(usage(['a', 'b'])).toBe('missing required option --out (hotpatch build <old> <new> [options])');
    expect(usage(['a', 'b', '-o', 'p', '--keep-packages', 'x', '--from-packages', 'y'])).toBe('--keep-packages and --from-packages exclude each other');
    expect(usage(['a', 'b', '-o'])).toMatch(/--out/);
  });

  it('fills variadic and defaulted positionals', () => {
    const spec: ArgsSpec = { positionals: { sections: { array: true, describe: 's' } } };
    expect(parse(['size', 'startup'], 'bench [sections..]', spec)).toEqual({ ok: true, value: { sections: ['size', 'startup'], json: false } });
    expect(parse([], 'bench [sections..]', spec)).toEqual({ ok: true, value: { sections: [], json: false } });
    const demo: ArgsSpec = { positionals: { scenario: { default: 'logic-fix', describe: 's' } } };
    expect(parse([], 'demo [scenario]', demo)).toEqual({ ok: true, value: { scenario: 'logic-fix', json: false } });
  });
});

describe('help and suggestions', () => {
  it("lists every positional and option with what it needs", () => {
    const help = commandHelp('build <old> <new>', 'build a package', BUILD);
    for (const text of ['hotpatch build <old> <new> [options]', 'old', '-o, --out VALUE', '--pid N', '[required]', '--no-readme', '--json', '-h, --help']) expect(help).toContain(text);
  });

  it('suggests the command a typo meant, and nothing for a different word', () => {
    const names = ['demo', 'pe', 'functions', 'diff', 'build', 'bundle', 'verify', 'apply', 'live', 'revert', 'inspect', 'keygen', 'bench'];
    expect(closestName('bulid', names)).toBe('build');
    expect(closestName('inspetc', names)).toBe('inspect');
    expect(closestName('frobnicate', names)).toBeUndefined();
  });
});
