import './ignore-sighup';
import { hangupStep } from '../steps/steps';
import { runAgi } from './agi-runner';

runAgi(hangupStep);
