/**
 * The containers of an engine target, found again by their `ai.ledge.target` label (the
 * target keeps no state of its own), and what each says of the deployment it runs.
 */
import type { ServingInstance } from '../target.js';
import { type ContainerRole, LABEL } from './container-spec.js';
import type { ContainerSummary } from './engine-api.js';
import type { EngineClient } from './engine-client.js';

/** A container of this target, as listed. */
export interface TargetContainer {
  id: string;
  name: string;
  role: ContainerRole;
  deploymentId: number | null;
  running: boolean;
  summary: ContainerSummary;
}

/** Lists the target's containers (labelled `ai.ledge.target=<target>`), newest first. */
export async function targetContainers(client: EngineClient, target: string): Promise<TargetContainer[]> {
  const listed = await client.listContainers({ [LABEL.target]: target });
  return listed
    .map((summary) => {
      const labels = summary.Labels ?? {};
      const deployment = Number(labels[LABEL.deployment]);
      return {
        id: summary.Id,
        name: (summary.Names[0] ?? summary.Id).replace(/^\//, ''),
        role: (labels[LABEL.role] === 'candidate' ? 'candidate' : 'serving') as ContainerRole,
        deploymentId: Number.isInteger(deployment) ? deployment : null,
        running: summary.State === 'running' || summary.State === 'restarting',
        summary,
      };
    })
    .sort((a, b) => (b.summary.Created ?? 0) - (a.summary.Created ?? 0));
}

/** A container's deployment as a ServingInstance (from its labels). */
export function instanceOf(container: TargetContainer, port: number): ServingInstance {
  const labels = container.summary.Labels ?? {};
  return {
    deploymentId: container.deploymentId,
    name: labels[LABEL.model] ?? '?',
    version: labels[LABEL.version] ?? '?',
    digest: labels[LABEL.digest] ?? '',
    since: container.summary.Created ? new Date(container.summary.Created * 1000).toISOString() : '',
    details: { container: container.name, id: container.id.slice(0, 12), image: labels[LABEL.image], port },
  };
}
