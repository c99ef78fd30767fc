/**
 * Models: every registered model with its aliases and versions (digest, size, metrics).
 * `#/models?model=NAME&version=N` (a deployment's link) marks that version's row.
 */
import type { ModelInfo } from '../../api-types.js';
import { getJson } from '../api-client.js';
import { dataTable, emptyState, errorBox, link, pageHeading } from '../components.js';
import { type Elem, h } from '../dom.js';
import { formatBytes, formatTime, headlineMetrics, shortDigest } from '../format.js';
import type { Route } from '../route.js';

function modelSection(model: ModelInfo, selected: number | undefined): Elem {
  const aliases = Object.entries(model.aliases).sort(([a], [b]) => (a < b ? -1 : 1));
  const latest = model.versions[0];
  return h(
    'section',
    { class: 'model', 'aria-labelledby': `model-${model.name}` },
    h('h3', { id: `model-${model.name}` }, model.name),
    h(
      'p',
      { class: 'aliases' },
      'Aliases: ',
      aliases.length === 0
        ? 'none'
        : aliases.map(([alias, version], i) => [
            i > 0 ? ', ' : '',
            h('span', { class: 'alias' }, `${model.name}@${alias}`),
            ` → ${version}`,
          ]),
      latest ? `; latest → ${latest.version}` : '',
    ),
    dataTable({
      caption: `Versions of ${model.name}, newest first`,
      headers: ['Version', 'Aliases', 'Kind', 'Size', 'Digest', 'Registered (UTC)', 'Metrics', 'Produced by'],
      rows: model.versions.map((v) => [
        String(v.version),
        v.aliases.join(', ') || '–',
        v.kind,
        formatBytes(v.size),
        h('code', { title: v.digest, class: 'digest' }, shortDigest(v.digest)),
        formatTime(v.createdAt),
        headlineMetrics(v.metrics) || '–',
        v.executionId === null ? '–' : link(`#/runs/${v.executionId}`, `execution ${v.executionId}`),
      ]),
      numeric: [0, 3],
      className: 'data versions',
      rowClass: (i) => (model.versions[i]!.version === selected ? 'selected' : undefined),
    }),
  );
}

/** `#/models[?model=NAME&version=N]` */
export async function modelsPage(view: Elem, route: Route): Promise<void> {
  const selectedModel = route.query.get('model');
  const selectedVersion = Number(route.query.get('version') ?? '');
  view.replaceChildren(pageHeading('Models'), h('p', { class: 'loading' }, 'Loading…'));
  let models: ModelInfo[];
  try {
    models = await getJson<ModelInfo[]>('models');
  } catch (error) {
    view.replaceChildren(pageHeading('Models'), errorBox((error as Error).message));
    return;
  }
  view.replaceChildren(
    pageHeading('Models'),
    models.length === 0
      ? emptyState(
          'No models registered yet.',
          h(
            'p',
            {},
            'Register one with `ledge model register PATH --name NAME` or `ledge model import FILE.onnx --name NAME`.',
          ),
        )
      : h(
          'div',
          {},
          ...models.map((model) =>
            modelSection(model, model.name === selectedModel ? selectedVersion : undefined),
          ),
        ),
  );
}
