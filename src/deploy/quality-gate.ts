/**
 * The quality gate: whether a model may be deployed to a target, from its recorded evaluation
 * metrics (the registry's, or a bare bundle's model card). It refuses a model whose metric is
 * on the wrong side of the configured threshold, or worse than the model serving on the target
 * now. Pure: it decides, the deployer acts (and `--force` skips it).
 */
import type { GateConfig } from './deploy-config.js';
import { DeployError } from './deploy-errors.js';

/** A model as the gate sees it: how messages name it, and its metrics (nested objects allowed). */
export interface GatedModel {
  /** `imdb-sentiment@3`, or a path. */
  label: string;
  metrics: Record<string, unknown>;
}

export interface GateDecision {
  passed: boolean;
  /** The metric key compared (`validation.accuracy`). */
  metric: string;
  direction: 'higher' | 'lower';
  candidate: number;
  /** The configured bound, if any. */
  threshold?: { kind: 'min' | 'max'; value: number } | undefined;
  /** The deployed model's value, when there is one to compare with. */
  deployed?: { label: string; value: number; deploymentId: number } | undefined;
  /** Why it refused (names the metric and both values), or a note on what it compared. */
  message: string;
}

/** Nested metrics as dotted keys with numeric values: `{validation: {accuracy: 0.9}}` → `validation.accuracy`. */
export function numericMetrics(metrics: Record<string, unknown>, prefix = ''): Map<string, number> {
  const found = new Map<string, number>();
  for (const [key, value] of Object.entries(metrics)) {
    const name = prefix ? `${prefix}.${key}` : key;
    if (typeof value === 'number' && Number.isFinite(value)) found.set(name, value);
    else if (value && typeof value === 'object' && !Array.isArray(value)) {
      for (const [k, v] of numericMetrics(value as Record<string, unknown>, name)) found.set(k, v);
    }
  }
  return found;
}

/**
 * Finds metric `name` in `metrics`: an exact dotted key, or the one key whose last part is
 * `name` (`accuracy` finds `validation.accuracy`). Undefined when absent; throws when ambiguous.
 */
export function findMetric(
  metrics: Record<string, unknown>,
  name: string,
  label: string,
): { key: string; value: number } | undefined {
  const all = numericMetrics(metrics);
  const exact = all.get(name);
  if (exact !== undefined) return { key: name, value: exact };
  const matches = [...all.keys()].filter((key) => key.endsWith(`.${name}`));
  if (matches.length === 1) return { key: matches[0]!, value: all.get(matches[0]!)! };
  if (matches.length > 1) {
    throw new DeployError(
      'unknown-metric',
      `quality gate: metric '${name}' is ambiguous for ${label} (${matches.sort().join(', ')})`,
      { hint: 'write the full key as gate.metric in .ledge/deploy.yaml' },
    );
  }
  return undefined;
}

function unknownMetric(gate: GateConfig, model: GatedModel): DeployError {
  const keys = [...numericMetrics(model.metrics).keys()].sort();
  const has = keys.length === 0 ? 'it has no recorded metrics' : `it has ${keys.join(', ')}`;
  return new DeployError(
    'unknown-metric',
    `quality gate: ${model.label} has no metric '${gate.metric}' (${has})`,
    {
      hint:
        keys.length === 0
          ? 'register it with metrics (`ledge model register --metrics FILE`), or --force deploys it without the gate'
          : 'set gate.metric in .ledge/deploy.yaml to one of them, or --force deploys it without the gate',
    },
  );
}

/** Two values as text that tells them apart (4 decimals unless that makes them look equal). */
function pair(a: number, b: number): [string, string] {
  const short = (n: number) => String(Number(n.toFixed(4)));
  return short(a) === short(b) && a !== b ? [String(a), String(b)] : [short(a), short(b)];
}

/**
 * Decides. `deployed` is the model serving on the target now (its metrics as recorded when it
 * was deployed). Throws `unknown-metric` when the candidate lacks the metric; a deployed model
 * lacking it is not compared with.
 */
export function checkGate(
  gate: GateConfig,
  candidate: GatedModel,
  deployed?: GatedModel & { deploymentId: number },
): GateDecision {
  const found = findMetric(candidate.metrics, gate.metric, candidate.label);
  if (!found) throw unknownMetric(gate, candidate);
  const { key, value } = found;
  const higher = gate.direction === 'higher';
  const decision: GateDecision = {
    passed: true,
    metric: key,
    direction: gate.direction,
    candidate: value,
    message: '',
  };
  const bound = higher ? gate.min : gate.max;
  if (bound !== undefined) {
    decision.threshold = { kind: higher ? 'min' : 'max', value: bound };
    if (higher ? value < bound : value > bound) {
      const [v, b] = pair(value, bound);
      decision.passed = false;
      decision.message = `${key} ${v} of ${candidate.label} is ${higher ? 'below the minimum' : 'above the maximum'} ${b}`;
      return decision;
    }
  }
  if (deployed && gate.against_deployed) {
    const other = findMetric(deployed.metrics, key, deployed.label) ?? undefined;
    if (other) {
      decision.deployed = { label: deployed.label, value: other.value, deploymentId: deployed.deploymentId };
      if (higher ? value < other.value : value > other.value) {
        const [v, o] = pair(value, other.value);
        decision.passed = false;
        decision.message = `${key} ${v} of ${candidate.label} is worse than ${o} of ${deployed.label} (deployment ${deployed.deploymentId}), deployed now`;
        return decision;
      }
    }
  }
  const [v] = pair(value, value);
  const against = decision.deployed
    ? `; ${deployed!.label} has ${pair(value, decision.deployed.value)[1]}`
    : deployed && gate.against_deployed
      ? `; ${deployed.label} has no ${key} to compare with`
      : '';
  const limit = decision.threshold ? ` (${decision.threshold.kind} ${decision.threshold.value})` : '';
  decision.message = `${key} ${v}${limit}${against}`;
  return decision;
}
