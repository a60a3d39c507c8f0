// The call steps: which flow, which budget, how much a caller waits for them.
import { hangup, outgoingHangup } from '../flows/hangup';
import { incoming } from '../flows/incoming';
import { outgoing } from '../flows/outgoing';
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
  flow: (r) => show(r.services, r.channel, r.env, r.arg, r.deadline, { deliverLater: r.deliverLater }),
};

/** A call leaving through a trunk; the trunk waits for it. */
export const outgoingStep: StepDefinition = {
  name: 'outgoing',
  budgetMs: (c) => c.outgoingTimeoutMs,
  minRunMs: 0,
  priority: 'call-path',
  busyTimeoutMs: callPathBusyMs,
  flow: (r) => outgoing(r.services, r.channel, r.env, r.deadline, { release: r.release }),
};

/** The hangup handler of an inbound call, or with the argument `out` of an outgoing one. */
export const hangupStep: StepDefinition = {
  name: 'hangup',
  budgetMs: (c) => c.hangupTimeoutMs,
  minRunMs: 1000,
  priority: 'background',
  busyTimeoutMs: (remainingMs) => Math.max(100, Math.min(10_000, remainingMs - 300)),
  flow: (r) =>
    (r.arg === 'out' ? outgoingHangup : hangup)(r.services, r.channel, r.env, r.deadline, {
      spawnRecordingWorker: r.completeLater,
      mustFinish: r.mustFinish,
      release: r.release,
    }),
};
