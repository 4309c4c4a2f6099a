/** The ABI conformance suite, run against the guests the project ships, in every language it has an SDK for. */
import { builtGuest } from '../helpers/guests.js';
import { describeAbiConformance } from './abi-conformance.js';

describeAbiConformance('example', () => builtGuest('example'));
describeAbiConformance('aggregator', () => builtGuest('aggregator'));
// Rust (guests/rust) and C (guests/c) guests, built by scripts/build-native-guests.mjs.
describeAbiConformance('rust-region-stats', () => builtGuest('rust-region-stats'));
describeAbiConformance('c-example', () => builtGuest('c-example'));
