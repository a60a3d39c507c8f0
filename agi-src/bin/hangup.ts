import './ignore-sighup';
import { detachedWorker, hangup } from '../flows/hangup';
import { runAgi } from './agi-runner';

runAgi(
  'hangup',
  (c) => c.hangupTimeoutMs,
  (r) => hangup(r.services, r.channel, r.env, r.deadline, { spawnRecordingWorker: detachedWorker(r.configPath), mustFinish: r.mustFinish }),
  1000,
);
