/** A real node for a whole test file: started before its tests, stopped (and its data removed) after them. */
import { afterAll, beforeAll } from 'vitest';
import { NodeProcess, type NodeProcessOptions } from './node-process.js';

/** Registers the file's hooks; `set` receives the node once it runs. */
export function useNodeProcess(set: (node: NodeProcess) => void, options?: NodeProcessOptions): void {
  let started: NodeProcess | undefined;
  beforeAll(async () => {
    started = await NodeProcess.start(options);
    set(started);
  });
  afterAll(async () => {
    await started?.stop();
    started?.cleanup();
  });
}
