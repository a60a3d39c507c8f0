import './ignore-sighup';
import { detachedCard, show } from '../flows/show';
import { runAgi } from './agi-runner';

// Asterisk holds the bridge until this process exits: the card goes out from a detached process.
runAgi('show', (c) => c.showTimeoutMs, (r) => show(r.services, r.channel, r.env, r.arg, r.deadline, { deliverLater: detachedCard(r.configPath) }));
