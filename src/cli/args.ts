/** Argument parsers shared by the commands: a bad value is refused with what was expected, before anything runs. */
import { InvalidArgumentError } from 'commander';

/** A whole number from `min` (and at most `max`). */
export function integerArg(min = 0, max = Number.MAX_SAFE_INTEGER): (value: string) => number {
  return (value) => {
    const v = Number(value);
    if (!Number.isInteger(v) || v < min || v > max) throw new InvalidArgumentError(`expected a whole number from ${min}${max < Number.MAX_SAFE_INTEGER ? ` to ${max}` : ''}`);
    return v;
  };
}

/** A TCP port: 0 (any free one) to 65535. */
export const portArg = integerArg(0, 65535);

/** Writes `data` as one line of JSON (`--json`) or `text` for people. */
export function print(json: boolean | undefined, data: unknown, text: string): void {
  process.stdout.write(json ? `${JSON.stringify(data)}\n` : text.endsWith('\n') ? text : `${text}\n`);
}

/**
 * How long a command that writes to a running node's database waits for it: the node holds the write lock
 * while it gathers journaled commit groups (up to `db-commit-interval-ms`, and it lets go after a second idle).
 */
export const RUNNING_NODE_WAIT_MS = 30_000;
