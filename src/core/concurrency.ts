/** Runs `fn` over `items` with at most `limit` calls in flight; stops at the first fatal error. */
export async function forEachLimit<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failed: unknown;
  let hasFailed = false;
  const lane = async () => {
    while (!hasFailed && next < items.length) {
      const index = next++;
      try {
        await fn(items[index]!, index);
      } catch (error) {
        if (!hasFailed) {
          hasFailed = true;
          failed = error;
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, lane));
  if (hasFailed) throw failed;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Retries `fn` on errors that say they are retryable, with exponential backoff. */
export async function withRetries<T>(fn: () => Promise<T>, attempts = 3, baseDelayMs = 200): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (error) {
      const retryable = (error as { retryable?: boolean }).retryable === true;
      if (!retryable || attempt >= attempts) throw error;
      await sleep(baseDelayMs * 2 ** (attempt - 1));
    }
  }
}
