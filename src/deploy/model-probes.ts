/**
 * The two checks every target makes of a model server before it gets traffic, over HTTP:
 * readiness (`GET /v2/health/ready`, Open Inference Protocol) and a smoke inference
 * (`POST /v1/models/<name>:predict` with one text; the score must be a number in [0, 1]).
 */

/** One readiness probe: whether `/v2/health/ready` answers 200, and what it answered otherwise. */
export async function probeReady(url: string, timeoutMs = 2000): Promise<{ ready: boolean; detail: string }> {
  try {
    const response = await fetch(`${url}/v2/health/ready`, { signal: AbortSignal.timeout(timeoutMs) });
    await response.arrayBuffer();
    return { ready: response.status === 200, detail: `status ${response.status}` };
  } catch (error) {
    const cause = (error as Error & { cause?: { code?: string } }).cause;
    return { ready: false, detail: cause?.code ?? (error as Error).message };
  }
}

/** One prediction through `/v1/models/<name>:predict`: returns its score, or throws saying what was wrong. */
export async function smokeInference(
  url: string,
  name: string,
  text: string,
  timeoutMs: number,
): Promise<number> {
  let response: Response;
  try {
    response = await fetch(`${url}/v1/models/${encodeURIComponent(name)}:predict`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ instances: [text] }),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    const cause = (error as Error & { cause?: { code?: string } }).cause;
    throw new Error(`the smoke inference got no answer: ${cause?.code ?? (error as Error).message}`);
  }
  const body = await response.text();
  if (response.status !== 200) {
    throw new Error(`the smoke inference answered ${response.status}: ${body.slice(0, 200)}`);
  }
  let score: unknown;
  try {
    score = (JSON.parse(body) as { predictions?: { score?: unknown }[] }).predictions?.[0]?.score;
  } catch {
    score = undefined;
  }
  if (typeof score !== 'number' || !Number.isFinite(score) || score < 0 || score > 1) {
    throw new Error(`the smoke inference's score is not a number in [0, 1]: ${body.slice(0, 200)}`);
  }
  return score;
}
