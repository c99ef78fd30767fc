/**
 * Command-line options of the benchmark scripts (node:util parseArgs): the flags every one takes
 * (--quick, --write, --keep, -h) and its own numeric settings, each with a default for full runs
 * and one for --quick, checked against a range. Prints the usage for -h; throws one line naming
 * the flag for a bad value.
 */
import { parseArgs } from 'node:util';

export interface CommonOptions {
  quick: boolean;
  write: boolean;
  keep: boolean;
  /** As given, for the report's "this run" line. */
  argv: string[];
}

export interface NumberOption {
  /** Default for a full run, and for --quick (the full one when omitted). */
  full: number;
  quick?: number;
  min: number;
  max?: number;
  /** Whole numbers only (default true). */
  integer?: boolean;
}

export function parseBenchOptions<K extends string>(
  argv: string[],
  usage: string,
  numbers: Record<K, NumberOption>,
): CommonOptions & Record<K, number> {
  const names = Object.keys(numbers) as K[];
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      write: { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
      ...Object.fromEntries(names.map((name) => [name, { type: 'string' as const }])),
    },
  });
  if (values.help) {
    process.stdout.write(`${usage}\n`);
    process.exit(0);
  }
  const quick = values.quick === true;
  const parsed = {} as Record<K, number>;
  for (const name of names) {
    const spec = numbers[name];
    const raw = (values as Record<string, string | boolean | undefined>)[name] as string | undefined;
    const value = raw === undefined ? (quick ? (spec.quick ?? spec.full) : spec.full) : Number(raw);
    const whole = spec.integer ?? true;
    const max = spec.max ?? Number.MAX_SAFE_INTEGER;
    if (!Number.isFinite(value) || (whole && !Number.isInteger(value)) || value < spec.min || value > max) {
      throw new Error(
        `--${name} must be ${whole ? 'a whole number' : 'a number'} from ${spec.min}` +
          `${spec.max === undefined ? ' up' : ` to ${spec.max}`}, not '${raw}'`,
      );
    }
    parsed[name] = value;
  }
  return {
    quick,
    write: values.write === true,
    keep: values.keep === true,
    argv,
    ...parsed,
  };
}
