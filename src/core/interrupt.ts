/**
 * Clean-up on Ctrl-C and SIGTERM. Long commands register a handler that stops their work
 * and records what happened (a run marked interrupted, child processes stopped); the CLI's
 * signal handler awaits every handler, bounded in time, and then exits.
 */
type Handler = () => Promise<void> | void;

const handlers = new Set<Handler>();

/** Registers `handler`; returns a function that removes it. */
export function onInterrupt(handler: Handler): () => void {
  handlers.add(handler);
  return () => handlers.delete(handler);
}

/** Runs every registered handler, giving up after `timeoutMs`. */
export async function runInterruptHandlers(timeoutMs: number): Promise<void> {
  const pending = [...handlers].map(async (handler) => {
    try {
      await handler();
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
}
