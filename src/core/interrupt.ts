/**
 * Clean-up on Ctrl-C and SIGTERM. Long commands register a handler that stops their work
 * and records what happened (a run marked interrupted, child processes stopped); the CLI's
 * signal handler awaits every handler, bounded in time, and then exits.
 */
/** Cleans up; may return the exit code the process should end with (e.g. 0 after a clean drain). */
type Handler = () => Promise<number | undefined> | number | undefined;

const handlers = new Set<Handler>();

/** Registers `handler`; returns a function that removes it. */
export function onInterrupt(handler: Handler): () => void {
  handlers.add(handler);
  return () => handlers.delete(handler);
}

/**
 * Runs every registered handler, giving up after `timeoutMs`; returns the exit code a handler
 * asked for, if any.
 */
export async function runInterruptHandlers(timeoutMs: number): Promise<number | undefined> {
  let code: number | undefined;
  const pending = [...handlers].map(async (handler) => {
    try {
      const result = await handler();
      if (typeof result === 'number') code ??= result;
    } catch {
      // Already exiting: a failed clean-up must not stop the others.
    }
  });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, timeoutMs);
  });
  await Promise.race([Promise.all(pending), timeout]);
  clearTimeout(timer);
  return code;
}
