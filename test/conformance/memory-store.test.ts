import { MemoryStore } from '../../src/runtime/memory-store.js';
import { describeStoreConformance } from './store-conformance.js';

describeStoreConformance('MemoryStore', () => ({ store: new MemoryStore(), close() {} }));
