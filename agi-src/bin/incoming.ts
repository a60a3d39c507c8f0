import './ignore-sighup';
import { incoming } from '../flows/incoming';
import { runAgi } from './agi-runner';

runAgi('incoming', (c) => c.incomingTimeoutMs, (r) => incoming(r.services, r.channel, r.env, r.arg, r.deadline));
