import './ignore-sighup';
import { showStep } from '../steps/steps';
import { runAgi } from './agi-runner';

runAgi(showStep);
