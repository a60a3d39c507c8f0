import './ignore-sighup';
import { hangupStep } from '../steps/steps';
import { runAgi } from './agi-runner';

// `AGI(itd_bitrix_hangup.js)` on an inbound channel, `AGI(itd_bitrix_hangup.js,out)` on the calling channel of an outgoing call.
runAgi(hangupStep);
