/**
 * The operator console: `GET /` serves a single-page app (plain HTML/CSS/JS from runtime/api/console/, no CDN) and
 * `GET /v1/console/snapshot` the data it starts from. The shell and its static files are public (they hold no data);
 * every data call needs the admin token or a client certificate. Live updates: runtime/api/routes/events.ts.
 */
import fs from 'node:fs';
import path from 'node:path';
import { GlimmerError } from '../../errors';
import { plantMap } from '../../model/plant-map';
import { mimicLayout } from '../console/mimic';
import type { ConsoleView } from '../console/view-model';
import type { Route } from '../router';

export interface ConsoleRouteOptions {
  /** Folder of index.html, console.css, console.js, merkle.js. @default runtime/api/console (found from source or dist/) */
  readonly assetsDir?: string;
  /** Gateway decisions in the snapshot. @default 100 */
  readonly decisions?: number;
}

/** The files the console is made of: a fixed list, so no request path ever reaches the file system. */
export const CONSOLE_ASSETS: Readonly<Record<string, { file: string; type: string }>> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/console/console.css': { file: 'console.css', type: 'text/css; charset=utf-8' },
  '/console/console.js': { file: 'console.js', type: 'text/javascript; charset=utf-8' },
  '/console/merkle.js': { file: 'merkle.js', type: 'text/javascript; charset=utf-8' },
};

/** Same-origin only: no inline script, no remote anything, no framing. */
export const CONSOLE_CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export function consoleAssetsDir(): string {
  const candidates = [
    path.join(__dirname, '..', 'console'), // source (tsx): runtime/api/routes -> runtime/api/console
    path.join(__dirname, 'console'), // a bundle that ships the folder beside it (dist/console)
    path.join(__dirname, '..', 'runtime', 'api', 'console'), // the bundle dist/cli.js inside the repository
  ];
  const found = candidates.find((dir) => fs.existsSync(path.join(dir, 'index.html')));
  if (!found) throw new GlimmerError('GLM_ERR_INTERNAL', `the operator console's files are missing (looked in ${candidates.join(', ')})`);
  return found;
}

export function consoleRoutes(view: ConsoleView, options: ConsoleRouteOptions = {}): Route[] {
  const dir = options.assetsDir ?? consoleAssetsDir();
  const decisions = options.decisions ?? 100;
  // The map is fixed for the life of the process: its picture is laid out once.
  const mimic = mimicLayout(plantMap());
  const statics: Route[] = Object.entries(CONSOLE_ASSETS).map(([urlPath, asset]) => {
    const body = fs.readFileSync(path.join(dir, asset.file));
    return {
      method: 'GET',
      path: urlPath,
      public: true,
      handle: () => ({ status: 200, type: asset.type, body, headers: { 'content-security-policy': CONSOLE_CSP, 'x-frame-options': 'DENY' } }),
    };
  });
  return [
    ...statics,
    {
      method: 'GET',
      path: '/v1/console/snapshot',
      handle: () => ({
        status: 200,
        body: {
          boot_id: view.bootId,
          server_time: Date.now(),
          zones: view.zones(),
          agents: view.agents(),
          plant: view.plant() ?? null,
          plant_history: view.plantHistory(),
          decisions: view.decisions(decisions),
          decision_totals: view.decisionTotals(),
          scores: view.scores(),
          alerts: view.alerts(),
          alarms: view.alarmBook.list(),
          mimic,
        },
      }),
    },
  ];
}
