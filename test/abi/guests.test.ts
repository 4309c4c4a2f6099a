/** The ABI conformance suite, run against the guests the project ships. */
import { builtGuest } from '../helpers/guests.js';
import { describeAbiConformance } from './abi-conformance.js';

describeAbiConformance('example', () => builtGuest('example'));
describeAbiConformance('aggregator', () => builtGuest('aggregator'));
