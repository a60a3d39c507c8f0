import './ignore-sighup';
import { incomingStep } from '../steps/steps';
import { runAgi } from './agi-runner';

runAgi(incomingStep);
