/**
 * The stage DAG: which stage needs which, derived from paths (a stage depends on the stage
 * whose output it reads, or whose output contains or lies inside what it reads). Rejects
 * cycles and two stages writing one path, naming the stages and the path.
 */
import { LedgeError } from '../core/errors.js';
import type { Pipeline, Stage } from './pipeline-file.js';

export interface StageGraph {
  stages: Map<string, Stage>;
  /** stage → the stages it needs (upstream). */
  needs: Map<string, Set<string>>;
  /** A topological order: every stage after all it needs. */
  order: string[];
}

/** Whether `a` and `b` are the same path or one contains the other. */
export function overlaps(a: string, b: string): boolean {
  if (a === b || a === '' || b === '') return true;
  return a.startsWith(`${b}/`) || b.startsWith(`${a}/`);
}

export function buildStageGraph(pipeline: Pipeline): StageGraph {
  const stages = new Map(pipeline.stages.map((s) => [s.name, s]));
  const writers: { stage: string; path: string }[] = [];
  for (const stage of pipeline.stages) {
    for (const out of [...stage.outs, ...stage.metrics]) {
      const clash = writers.find((w) => overlaps(w.path, out) && (w.stage !== stage.name || w.path === out));
      if (clash) {
        const same = clash.stage === stage.name;
        throw new LedgeError(
          'config',
          same
            ? `${pipeline.file}: stage '${stage.name}' lists '${out}' twice among its outputs`
            : `${pipeline.file}: stages '${clash.stage}' and '${stage.name}' both write '${overlapLabel(clash.path, out)}'`,
          { hint: 'each path may be written by one stage only; let one stage own it' },
        );
      }
      writers.push({ stage: stage.name, path: out });
    }
  }
  const needs = new Map<string, Set<string>>();
  for (const stage of pipeline.stages) {
    const upstream = new Set<string>();
    for (const dep of stage.deps) {
      for (const writer of writers) {
        if (writer.stage !== stage.name && overlaps(writer.path, dep)) upstream.add(writer.stage);
      }
    }
    needs.set(stage.name, upstream);
  }
  return { stages, needs, order: topologicalOrder(pipeline.file, needs) };
}

function overlapLabel(a: string, b: string): string {
  return a === b ? a : `${a}' and '${b}`;
}

/** Depth-first order; a cycle is reported as the loop of stage names. */
function topologicalOrder(file: string, needs: Map<string, Set<string>>): string[] {
  const order: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const trail: string[] = [];
  const visit = (name: string) => {
    const seen = state.get(name);
    if (seen === 'done') return;
    if (seen === 'visiting') {
      const loop = [...trail.slice(trail.indexOf(name)), name].join(' -> ');
      throw new LedgeError('config', `${file}: the stages form a cycle: ${loop}`, {
        hint: 'a stage cannot depend, directly or not, on its own outputs',
      });
    }
    state.set(name, 'visiting');
    trail.push(name);
    for (const upstream of [...(needs.get(name) ?? [])].sort()) visit(upstream);
    trail.pop();
    state.set(name, 'done');
    order.push(name);
  };
  for (const name of [...needs.keys()].sort()) visit(name);
  return order;
}

/** The stages `targets` need, transitively, including themselves (all when empty). */
export function selectStages(graph: StageGraph, targets: string[]): string[] {
  if (targets.length === 0) return graph.order;
  const wanted = new Set<string>();
  const add = (name: string) => {
    if (wanted.has(name)) return;
    wanted.add(name);
    for (const upstream of graph.needs.get(name) ?? []) add(upstream);
  };
  for (const target of targets) {
    if (!graph.stages.has(target)) {
      throw new LedgeError('usage', `no stage named '${target}'`, {
        hint: `stages: ${[...graph.stages.keys()].join(', ')}`,
      });
    }
    add(target);
  }
  return graph.order.filter((name) => wanted.has(name));
}
