// The applications the test PBX knows, filled in by the modules that implement them.
import type { Channel } from './channel';
import type { Pbx } from './engine';
import type { Step } from './parser';

export class PbxError extends Error {}

export interface AppContext {
  pbx: Pbx;
  chan: Channel;
  /** Arguments after ${} substitution. */
  data: string;
  step?: Step;
}

/** 0: go on; -1: the channel leaves the dialplan (hung up). */
export type App = (ctx: AppContext) => Promise<number> | number;

const APPS = new Map<string, App>();

/** Application names are case-insensitive in Asterisk (FreePBX writes Noop, Asterisk NoOp). */
export function registerApps(apps: Record<string, App>): void {
  for (const [name, app] of Object.entries(apps)) APPS.set(name.toLowerCase(), app);
}

export function findApp(name: string): App | undefined {
  return APPS.get(name.toLowerCase());
}
