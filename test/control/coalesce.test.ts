import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { causeText, mergeStages, planEnqueue } from '../../src/control/queue/coalesce.js';
import { runOutcome } from '../../src/control/queue/run-outcome.js';

const at = '2026-11-27T00:00:00.000Z';

describe('coalescing', () => {
  it('merges stages: all wins, else the union', () => {
    assert.deepEqual(mergeStages([], ['a']), []);
    assert.deepEqual(mergeStages(['a', 'b'], ['b', 'c']), ['a', 'b', 'c']);
  });

  it('creates a run when none waits, else merges into the waiting one', () => {
    const request = { causes: [{ kind: 'manual', at }], stages: ['train'] };
    assert.equal(planEnqueue([], request).action, 'create');
    const plan = planEnqueue([{ id: 4, causes: [{ kind: 'schedule', at }], stages: ['prepare'] }], request);
    assert.deepEqual(plan, {
      action: 'merge',
      into: 4,
      request: {
        causes: [
          { kind: 'schedule', at },
          { kind: 'manual', at },
        ],
        stages: ['prepare', 'train'],
      },
    });
  });

  it('merges a forced request only into a forced run, and an unforced one only into an unforced run', () => {
    const forced = { causes: [{ kind: 'manual', at, force: true }], stages: ['train'] };
    const plain = { id: 4, causes: [{ kind: 'file', at }], stages: [] };
    assert.equal(planEnqueue([plain], forced).action, 'create');
    const both = [plain, { id: 5, ...forced }];
    assert.deepEqual(planEnqueue(both, { ...forced, stages: ['prepare'] }), {
      action: 'merge',
      into: 5,
      request: { causes: [...forced.causes, ...forced.causes], stages: ['train', 'prepare'] },
    });
    assert.equal(
      (planEnqueue(both, { causes: [{ kind: 'schedule', at }], stages: [] }) as { into: number }).into,
      4,
    );
    assert.equal(causeText(5, forced.causes), 'control run 5: manual, forced');
  });

  it('keeps a cause on one line', () => {
    assert.equal(
      causeText(1, [{ kind: 'manual', at, note: 'two\nlines\r\tand a tab' }]),
      'control run 1: manual: two lines and a tab',
    );
  });

  it('describes causes for ledge run --cause, folding repeats', () => {
    const text = causeText(7, [
      { kind: 'webhook', at, provider: 'github', delivery: 'd1', commit: 'a'.repeat(40) },
      { kind: 'file', at, paths: ['params.yaml'] },
      { kind: 'file', at, paths: ['params.yaml'] },
    ]);
    assert.equal(
      text,
      'control run 7: webhook github, delivery d1, commit aaaaaaaaaaaa; changed params.yaml (×2)',
    );
  });
});

describe('run outcome', () => {
  it('tells succeeded, gated, failed and interrupted apart', () => {
    assert.equal(runOutcome({ code: 0, signal: null, stderrTail: [] }).status, 'succeeded');
    assert.deepEqual(
      runOutcome({
        code: 1,
        signal: null,
        stderrTail: [
          "deploy | ledge: error: quality gate: refusing m@2 on target 'local': accuracy 0.5 is below the minimum 0.9; --force deploys it anyway",
          "ledge: error: run 3 failed: stage 'deploy' failed",
        ],
      }),
      {
        status: 'gated',
        reason:
          "quality gate: refusing m@2 on target 'local': accuracy 0.5 is below the minimum 0.9; --force deploys it anyway",
      },
    );
    assert.deepEqual(runOutcome({ code: 1, signal: null, stderrTail: ['ledge: error: boom; fix it'] }), {
      status: 'failed',
      reason: 'boom; fix it',
    });
    assert.equal(runOutcome({ code: null, signal: 'SIGKILL', stderrTail: [] }).status, 'interrupted');
    assert.deepEqual(
      runOutcome({ code: 143, signal: null, stderrTail: [] }, { as: 'cancelled', reason: 'x' }),
      {
        status: 'cancelled',
        reason: 'x',
      },
    );
  });
});
