/**
 * The lint rule that keeps folder boundaries (eslint-rules/folder-boundaries.js): another folder's
 * private file is refused, its index.ts and the folder's own files are not.
 */
import { RuleTester } from 'eslint';
import { join } from 'node:path';
import tseslint from 'typescript-eslint';
import { describe, it } from 'vitest';
import { folderBoundaries } from '../../eslint-rules/folder-boundaries.js';
import { ROOT } from '../helpers/guests.js';

RuleTester.describe = describe;
RuleTester.it = it;

const tester = new RuleTester({ languageOptions: { parser: tseslint.parser, ecmaVersion: 2022, sourceType: 'module' } });
const file = (path: string) => join(ROOT, path);

tester.run('folder-boundaries', folderBoundaries, {
  valid: [
    { code: "import { Router } from '../http/index.js';", filename: file('src/node/edge-node.ts') },
    { code: "import { durabilityPlan } from './durability.js';", filename: file('src/node/edge-node.ts') },
    { code: "import { RegionStream } from './region-stream.js';", filename: file('src/apps/aggregator/aggregator-app.ts') },
    { code: "import { guestReadHandler } from '../guest-routes.js';", filename: file('src/apps/aggregator/aggregator-app.ts') },
    { code: "import { Route } from '../../http/index.js';", filename: file('src/apps/aggregator/aggregator-app.ts') },
    { code: "import { readFileSync } from 'node:fs';", filename: file('src/node/edge-node.ts') },
    // Tests may reach a folder's internals: the rule is for src/.
    { code: "import { Router } from '../../src/http/router.js';", filename: file('test/http/router.test.ts') },
  ],
  invalid: [
    { code: "import { Router } from '../http/router.js';", filename: file('src/node/edge-node.ts'), errors: [{ messageId: 'private' }] },
    { code: "import type { Route } from '../../http/router.js';", filename: file('src/apps/aggregator/aggregator-app.ts'), errors: [{ messageId: 'private' }] },
    { code: "export { Router } from '../http/router.js';", filename: file('src/node/index.ts'), errors: [{ messageId: 'private' }] },
    { code: "const m = await import('../replication/replicator.js');", filename: file('src/node/edge-node.ts'), errors: [{ messageId: 'private' }] },
  ],
});
