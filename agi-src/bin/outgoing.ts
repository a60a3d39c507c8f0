import './ignore-sighup';
import { outgoing } from '../flows/outgoing';
import { runAgi } from './agi-runner';

runAgi('outgoing', (c) => c.outgoingTimeoutMs, (r) => outgoing(r.services, r.channel, r.env, r.deadline));
