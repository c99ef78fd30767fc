/**
 * Push webhooks of the control server: GitHub (`X-Hub-Signature-256`, an HMAC of the body) and
 * GitLab (`X-Gitlab-Token`). A bad or missing signature is a 401 and a log line (with the
 * delivery id, never the secret); a delivery id seen before is ignored, across restarts (the
 * trigger records claim it); a push to the configured branch queues a run whose cause names the
 * provider, delivery, branch and commit; anything else is acknowledged and ignored.
 *
 *     POST /api/webhooks/github
 *     POST /api/webhooks/gitlab
 */
import type { Context, Hono, Env as HonoEnv } from 'hono';
import type { TriggerRecords } from '../../metadata/trigger-records.js';
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import type { RunQueue } from '../queue/run-queue.js';
import { githubPush, gitlabPush, type PushEvent } from '../triggers/push-event.js';
import { verifyGithubSignature, verifyGitlabToken } from '../triggers/webhook-signature.js';
import { ControlHttpError } from './http-error.js';

export interface WebhookSettings {
  secret: string;
  branch: string;
  stages: string[];
}

export interface WebhookRouteOptions {
  queue: RunQueue;
  triggers: TriggerRecords;
  github?: WebhookSettings | undefined;
  gitlab?: WebhookSettings | undefined;
  log: Logger;
  clock: Clock;
}

/** Larger webhook bodies are refused (GitHub caps its payloads at 25 MiB). */
const MAX_WEBHOOK_BODY = 25 * 1024 * 1024;

/** Registers the two routes on `app` (any environment: they use none of it). */
export function registerWebhookRoutes<E extends HonoEnv>(app: Hono<E>, options: WebhookRouteOptions): void {
  const webhook = async (
    c: Context<E>,
    provider: 'github' | 'gitlab',
    settings: WebhookSettings | undefined,
    check: (body: Uint8Array) => boolean,
    deliveryHeader: string | undefined,
    parse: (body: unknown) => PushEvent | undefined,
    isPushEvent: boolean,
  ) => {
    if (!settings)
      throw new ControlHttpError(
        404,
        `${provider} webhooks are not configured (.ledge/server.yaml triggers.${provider})`,
      );
    const raw = new Uint8Array(await c.req.arrayBuffer());
    if (raw.length > MAX_WEBHOOK_BODY) throw new ControlHttpError(413, 'webhook body over 25 MiB');
    const delivery = deliveryHeader?.slice(0, 200);
    if (!check(raw)) {
      options.log.warn('webhook refused: bad or missing signature', {
        provider,
        delivery: delivery ?? null,
        remote: c.req.header('x-forwarded-for') ?? null,
      });
      throw new ControlHttpError(401, `${provider} webhook: bad or missing signature`);
    }
    if (!delivery) throw new ControlHttpError(400, `${provider} webhook: no delivery id header`);
    if (!(await options.triggers.claimDelivery(provider, delivery))) {
      options.log.info('webhook replay ignored', { provider, delivery });
      return c.json({ ignored: 'replayed delivery', delivery }, 200);
    }
    const settle = (outcome: string, runId: number | null) =>
      options.triggers.settleDelivery(provider, delivery, outcome, runId);
    if (!isPushEvent) {
      await settle('ignored: not a push event', null);
      return c.json({ ignored: 'not a push event', delivery }, 202);
    }
    let body: unknown;
    try {
      body = JSON.parse(Buffer.from(raw).toString('utf8'));
    } catch {
      await settle('ignored: body is not JSON', null);
      throw new ControlHttpError(400, `${provider} webhook: body is not JSON`);
    }
    const push = parse(body);
    if (!push || push.branch !== settings.branch) {
      options.log.info(`webhook ignored: not a push to ${settings.branch}`, {
        provider,
        delivery,
        branch: push?.branch ?? null,
      });
      await settle(`ignored: not a push to ${settings.branch}`, null);
      return c.json({ ignored: `not a push to ${settings.branch}`, delivery }, 202);
    }
    try {
      const result = await options.queue.enqueue({
        causes: [
          {
            kind: 'webhook',
            at: options.clock.now().toISOString(),
            provider,
            delivery,
            branch: push.branch,
            ...(push.commit ? { commit: push.commit } : {}),
          },
        ],
        stages: settings.stages,
      });
      await settle(result.merged ? 'merged' : 'queued', result.run.id);
      options.log.info('webhook queued a run', {
        provider,
        delivery,
        run: result.run.id,
        commit: push.commit ?? null,
      });
      return c.json({ ...result, delivery }, 202);
    } catch (error) {
      await options.triggers.releaseDelivery(provider, delivery);
      throw error;
    }
  };

  app.post('/api/webhooks/github', (c) =>
    webhook(
      c,
      'github',
      options.github,
      (body) => verifyGithubSignature(body, c.req.header('x-hub-signature-256'), options.github!.secret),
      c.req.header('x-github-delivery'),
      githubPush,
      c.req.header('x-github-event') === 'push',
    ),
  );
  app.post('/api/webhooks/gitlab', (c) =>
    webhook(
      c,
      'gitlab',
      options.gitlab,
      () => verifyGitlabToken(c.req.header('x-gitlab-token'), options.gitlab!.secret),
      c.req.header('x-gitlab-event-uuid') ?? c.req.header('x-gitlab-webhook-uuid'),
      gitlabPush,
      c.req.header('x-gitlab-event') === 'Push Hook',
    ),
  );
}
