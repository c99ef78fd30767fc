/**
 * The deploy component's error catalog: each problem a deployment can run into has a stable
 * `reason` here, a message that says what and where, and a hint how to fix it. They are
 * LedgeErrors (the CLI prints them as one line, exit code 1; `usage` ones exit 2).
 */
import { type ErrorCode, LedgeError, type LedgeErrorOptions } from '../core/errors.js';

export type DeployErrorReason =
  /** `--target NAME` names no target in .ledge/deploy.yaml. */
  | 'unknown-target'
  /** The quality gate refused the model (below the threshold or worse than what serves). */
  | 'gate-refused'
  /** The gate's metric is not among the model's recorded metrics. */
  | 'unknown-metric'
  /** The target tried and failed: the new version did not start, get ready, or answer. */
  | 'deploy-failed'
  /** The target cannot be reached or started (its supervisor, port, engine socket). */
  | 'target-unavailable'
  /** Rollback with nothing earlier to return to, status of nothing deployed… */
  | 'nothing-deployed'
  /** A container engine answered a request with an error (engine targets). */
  | 'engine-error'
  /** The target cannot do what was asked (an image on the local target). */
  | 'not-supported';

const CODES: Record<DeployErrorReason, ErrorCode> = {
  'unknown-target': 'usage',
  'gate-refused': 'invalid-model',
  'unknown-metric': 'config',
  'deploy-failed': 'invalid-model',
  'target-unavailable': 'io',
  'nothing-deployed': 'usage',
  'engine-error': 'io',
  'not-supported': 'usage',
};

export class DeployError extends LedgeError {
  readonly reason: DeployErrorReason;

  constructor(reason: DeployErrorReason, message: string, options: LedgeErrorOptions = {}) {
    super(CODES[reason], message, options);
    this.name = 'DeployError';
    this.reason = reason;
  }
}

export function isDeployError(error: unknown, reason?: DeployErrorReason): error is DeployError {
  return error instanceof DeployError && (reason === undefined || error.reason === reason);
}
