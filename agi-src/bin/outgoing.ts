import './ignore-sighup';
import { outgoingStep } from '../steps/steps';
import { runAgi } from './agi-runner';

runAgi(outgoingStep);
