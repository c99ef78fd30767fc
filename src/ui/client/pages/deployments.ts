/** Deployments: none are recorded until deployment lands (issue 6); the page says so. */
import { getJson } from '../api-client.js';
import { dataTable, emptyState, errorBox, pageHeading } from '../components.js';
import { type Elem, h } from '../dom.js';
import { formatValue } from '../format.js';

/** `#/deployments` */
export async function deploymentsPage(view: Elem): Promise<void> {
  view.replaceChildren(pageHeading('Deployments'), h('p', { class: 'loading' }, 'Loading…'));
  let deployments: Record<string, unknown>[];
  try {
    deployments = await getJson<Record<string, unknown>[]>('deployments');
  } catch (error) {
    view.replaceChildren(pageHeading('Deployments'), errorBox((error as Error).message));
    return;
  }
  if (deployments.length === 0) {
    view.replaceChildren(
      pageHeading('Deployments'),
      emptyState(
        'No deployments recorded.',
        h('p', {}, 'Deployments of model versions to devices will be listed here once ledge deploys them.'),
      ),
    );
    return;
  }
  const headers = [...new Set(deployments.flatMap((d) => Object.keys(d)))];
  view.replaceChildren(
    pageHeading('Deployments'),
    dataTable({
      caption: `${deployments.length} deployments`,
      headers,
      rows: deployments.map((d) => headers.map((key) => formatValue(d[key]))),
    }),
  );
}
