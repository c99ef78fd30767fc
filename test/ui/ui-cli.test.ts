/** `ledge ui` through the real CLI: it prints where it serves, serves the page, and stops cleanly. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { finished, LEDGE_BIN, runLedge, startLedge, waitFor } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp-dir.js';

describe('ledge ui', () => {
  it('prints its URL, serves the dashboard and its API, and stops cleanly on SIGTERM', async (t) => {
    const root = tempDir(t);
    execFileSync('git', ['init', '-q'], { cwd: root });
    execFileSync(process.execPath, [LEDGE_BIN, 'init'], { cwd: root, stdio: 'ignore' });
    const child = startLedge(['ui', '--port', '0', '--server', 'http://127.0.0.1:9/'], { cwd: root, t });
    let stdout = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
    });
    await waitFor(
      () => /Dashboard at http:\/\/127\.0\.0\.1:\d+\//.test(stdout),
      'ledge ui to print its URL',
      20_000,
    );
    const url = /(http:\/\/127\.0\.0\.1:\d+\/)/.exec(stdout)![1]!;

    const page = await fetch(url);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-security-policy')!, /script-src 'self'/);
    const html = await page.text();
    assert.match(html, /<title>ledge dashboard<\/title>/);
    assert.match(html, /<script type="module" src="\/assets\/client\/main.js"><\/script>/);
    assert.match(html, /No runs recorded yet/);
    assert.equal((await fetch(`${url}assets/client/main.js`)).status, 200);
    assert.deepEqual(await (await fetch(`${url}api/runs`)).json(), []);
    const info = (await (await fetch(`${url}api/info`)).json()) as {
      servers: string[];
      database: string;
      control: boolean;
    };
    assert.deepEqual(info.servers, ['http://127.0.0.1:9']);
    // Standalone: no control plane, so the browser shows no run queue and no Run pipeline button.
    assert.equal(info.control, false);
    assert.equal((await fetch(`${url}api/session`)).status, 404);
    assert.match(info.database, /metadata\.db$/);

    child.kill('SIGTERM');
    const result = await finished(child);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stderr, '');
  });

  it('refuses a bad port or server URL with a usage error', async (t) => {
    const root = tempDir(t);
    execFileSync(process.execPath, [LEDGE_BIN, 'init'], { cwd: root, stdio: 'ignore' });
    const port = await runLedge(['ui', '--port', '70000'], { cwd: root });
    assert.equal(port.code, 2);
    assert.match(port.stderr, /^ledge: error: --port must be a port number \(0 to 65535\), not '70000'\n$/);
    const server = await runLedge(['ui', '--server', 'ftp://example.com'], { cwd: root });
    assert.equal(server.code, 2);
    assert.match(server.stderr, /--server 'ftp:\/\/example.com' must be an http:\/\/ or https:\/\/ URL/);
  });
});
