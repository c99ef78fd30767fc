/** Hash routes: `#/runs?where=…` → `{path: ['runs'], query}`. */
export interface Route {
  path: string[];
  query: URLSearchParams;
}

export function parseHash(hash: string): Route {
  const text = hash.replace(/^#\/?/, '');
  const at = text.indexOf('?');
  const pathText = at < 0 ? text : text.slice(0, at);
  const path = pathText
    .split('/')
    .filter((part) => part !== '')
    .map((part) => {
      try {
        return decodeURIComponent(part);
      } catch {
        return part;
      }
    });
  return { path, query: new URLSearchParams(at < 0 ? '' : text.slice(at + 1)) };
}
