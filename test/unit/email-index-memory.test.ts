import { MemoryEmailIndex } from '../../src/infra/memory/memory-email-index';
import { describeEmailIndexConformance } from '../conformance/email-index.conformance';

describeEmailIndexConformance('memory', async () => ({
  index: new MemoryEmailIndex(),
  cleanup: async () => {},
}));
