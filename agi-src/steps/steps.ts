// The three call steps: which flow, which budget, how much a caller waits for them.
import { hangup } from '../flows/hangup';
import { incoming } from '../flows/incoming';
import { show } from '../flows/show';
import type { StepDefinition } from './runner';

/**
 * How long a statement may wait for another process's write lock. The caller waits for incoming
 * and show, so they keep most of their budget for Bitrix24; the hangup handler's caller is gone
 * and its first job is to write down what the PBX knows, so it may wait almost all of its budget.
 */
const callPathBusyMs = (remainingMs: number) => Math.max(100, Math.min(2000, remainingMs / 2));

export const incomingStep: StepDefinition = {
  name: 'incoming',
  budgetMs: (c) => c.incomingTimeoutMs,
  minRunMs: 0,
  priority: 'call-path',
  busyTimeoutMs: callPathBusyMs,
  flow: (r) => incoming(r.services, r.channel, r.env, r.arg, r.deadline, { release: r.release }),
};

export const showStep: StepDefinition = {
  name: 'show',
  budgetMs: (c) => c.showTimeoutMs,
  minRunMs: 0,
  priority: 'call-path',
  busyTimeoutMs: callPathBusyMs,
  flow: (r) => show(r.services, r.channel, r.env, r.arg, r.deadline, { release: r.release }),
};

export const hangupStep: StepDefinition = {
  name: 'hangup',
  budgetMs: (c) => c.hangupTimeoutMs,
  minRunMs: 1000,
  priority: 'background',
  busyTimeoutMs: (remainingMs) => Math.max(100, Math.min(10_000, remainingMs - 300)),
  flow: (r) => hangup(r.services, r.channel, r.env, r.deadline, { spawnRecordingWorker: r.completeLater, release: r.release }),
};
