/**
 * The dashboard in the browser: a hash router over four pages (runs, models, deployments,
 * monitoring). Loaded as an ES module from the ledge process itself (no CDN, no bundler).
 */
import type { UiInfo } from '../api-types.js';
import { getJson } from './api-client.js';
import { errorBox } from './components.js';
import { doc, type Elem, h, win } from './dom.js';
import { deploymentDetailPage, deploymentsPage } from './pages/deployments.js';
import { modelsPage } from './pages/models.js';
import { monitoringPage } from './pages/monitoring.js';
import { queuePanel } from './pages/run-queue.js';
import { comparePage, runDetailPage, runsPage } from './pages/runs.js';
import { parseHash, type Route } from './route.js';

const SECTIONS = [
  { path: 'runs', title: 'Runs' },
  { path: 'models', title: 'Models' },
  { path: 'deployments', title: 'Deployments' },
  { path: 'monitoring', title: 'Monitoring' },
] as const;

const FALLBACK_INFO: UiInfo = {
  version: '',
  database: '',
  servers: [],
  refreshSeconds: 1.5,
  control: false,
};

function sectionOf(route: Route): string {
  const first = route.path[0] ?? 'runs';
  return first === 'compare' ? 'runs' : first;
}

function markCurrent(nav: Elem, section: string): void {
  const links = nav.querySelectorAll('a');
  for (let i = 0; i < links.length; i++) {
    const a = links[i]!;
    if (a.getAttribute('href') === `#/${section}`) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

async function start(): Promise<void> {
  const view = doc.getElementById('view');
  const nav = doc.getElementById('sections');
  if (!view || !nav) return;
  const info = await getJson<UiInfo>('info').catch(() => FALLBACK_INFO);
  const footer = doc.getElementById('footer-info');
  if (footer && info.version) {
    footer.textContent = `ledge ${info.version} · metadata ${info.database}${info.servers.length > 0 ? ` · watching ${info.servers.join(', ')}` : ''}`;
  }
  let stop: (() => void) | undefined;
  let rendered = 0;

  const show = async () => {
    stop?.();
    stop = undefined;
    const route = parseHash(win.location.hash);
    const section = sectionOf(route);
    const current = ++rendered;
    markCurrent(nav, section);
    const title = SECTIONS.find((s) => s.path === section)?.title ?? 'Not found';
    doc.title = `${title} · ledge`;
    // Each navigation draws into its own element: a slow page finishing late draws nowhere.
    const page = h('div', { class: 'page' });
    view.replaceChildren(page);
    try {
      const [first, id] = route.path;
      if (first === undefined || (first === 'runs' && id === undefined)) {
        // Served by `ledge server`: the run queue (and the Run pipeline button) above the runs.
        let reloadRuns: (() => Promise<void>) | undefined;
        const queue = info.control
          ? queuePanel(Math.max(0.5, info.refreshSeconds), () => void reloadRuns?.())
          : undefined;
        stop = queue?.stop;
        reloadRuns = await runsPage(page, route, queue?.element);
      } else if (first === 'runs') await runDetailPage(page, route);
      else if (first === 'compare') await comparePage(page, route);
      else if (first === 'models') await modelsPage(page, route);
      else if (first === 'deployments' && id === undefined) await deploymentsPage(page);
      else if (first === 'deployments') await deploymentDetailPage(page, route);
      else if (first === 'monitoring') stop = monitoringPage(page, info);
      else
        page.replaceChildren(
          h('h2', {}, 'Not found'),
          h('p', {}, `There is no page #/${route.path.join('/')}.`),
        );
    } catch (error) {
      page.replaceChildren(errorBox(`This page failed: ${(error as Error).message}`));
    }
    // A newer navigation has taken over while this one loaded.
    if (current !== rendered) return;
    page.querySelector('.page-heading')?.focus({ preventScroll: true });
  };

  // In-page anchors (the skip link's `#view`) are not routes: they leave the page as it is.
  win.addEventListener('hashchange', () => {
    if (win.location.hash === '' || win.location.hash.startsWith('#/')) void show();
  });
  await show();
}

void start();
