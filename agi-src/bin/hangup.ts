import './ignore-sighup';
import { detachedWorker, hangup, outgoingHangup } from '../flows/hangup';
import { runAgi } from './agi-runner';

// `AGI(itd_bitrix_hangup.js)` on an inbound channel, `AGI(itd_bitrix_hangup.js,out)` on the calling channel of an outgoing call.
runAgi(
  'hangup',
  (c) => c.hangupTimeoutMs,
  (r) =>
    (r.arg === 'out' ? outgoingHangup : hangup)(r.services, r.channel, r.env, r.deadline, {
      spawnRecordingWorker: detachedWorker(r.configPath),
      mustFinish: r.mustFinish,
    }),
  1000,
);
