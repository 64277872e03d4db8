import { MemoryStore } from '../src/storage/memory/index.js';
import { describeStoreContract } from './store-contract.js';

describeStoreContract('memory', () => Promise.resolve({ store: new MemoryStore(), cleanup: () => Promise.resolve() }));
