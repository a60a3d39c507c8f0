import './ignore-sighup';
import { show } from '../flows/show';
import { runAgi } from './agi-runner';

runAgi('show', (c) => c.showTimeoutMs, (r) => show(r.services, r.channel, r.env, r.arg, r.deadline));
