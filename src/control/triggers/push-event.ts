/**
 * Push events of GitHub and GitLab, read tolerantly from their JSON: the branch pushed to and
 * the commit it now points at. Anything else (a tag, a ping, another event) is not a push.
 */
export interface PushEvent {
  branch: string;
  commit: string | undefined;
}

function objectOf(body: unknown): Record<string, unknown> | undefined {
  return body && typeof body === 'object' && !Array.isArray(body)
    ? (body as Record<string, unknown>)
    : undefined;
}

function branchOf(ref: unknown): string | undefined {
  return typeof ref === 'string' && ref.startsWith('refs/heads/')
    ? ref.slice('refs/heads/'.length)
    : undefined;
}

const NULL_SHA = /^0+$/;

/** A GitHub `push` event (X-GitHub-Event: push); undefined for tags and branch deletions. */
export function githubPush(body: unknown): PushEvent | undefined {
  const event = objectOf(body);
  const branch = branchOf(event?.ref);
  if (!event || !branch || event.deleted === true) return undefined;
  const after = typeof event.after === 'string' && !NULL_SHA.test(event.after) ? event.after : undefined;
  return { branch, commit: after };
}

/** A GitLab `Push Hook` event; undefined for tags and branch deletions. */
export function gitlabPush(body: unknown): PushEvent | undefined {
  const event = objectOf(body);
  const branch = branchOf(event?.ref);
  if (!event || !branch || (event.object_kind !== undefined && event.object_kind !== 'push'))
    return undefined;
  const sha = [event.checkout_sha, event.after].find((v) => typeof v === 'string' && !NULL_SHA.test(v));
  if (sha === undefined && typeof event.after === 'string') return undefined; // deleted
  return { branch, commit: sha as string | undefined };
}
