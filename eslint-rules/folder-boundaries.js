/**
 * Folder boundaries: each `src/<concern>/` folder is reached from another folder only through its
 * `index.ts`, its public face; the rest of the folder is private to it (CONTRIBUTING.md, "Layout").
 */
import { dirname, relative, resolve, sep } from 'node:path';

/** The concern folder (`src/<concern>`) a file belongs to, or undefined outside src/. */
function concernOf(file, srcRoot) {
  const rel = relative(srcRoot, file);
  if (rel.startsWith('..') || rel === '') return undefined;
  const parts = rel.split(sep);
  return parts.length > 1 ? parts[0] : undefined;
}

/** @type {import('eslint').Rule.RuleModule} */
export const folderBoundaries = {
  meta: {
    type: 'problem',
    docs: { description: "import another src/ folder only through its index.ts" },
    schema: [],
    messages: {
      private: "'{{source}}' is private to src/{{target}}/: import '{{suggestion}}' (its public face) instead, and export what you need from there",
    },
  },
  create(context) {
    const file = context.filename;
    const srcRoot = resolve(context.cwd, 'src');
    const from = concernOf(file, srcRoot);
    if (from === undefined) return {};
    const check = (node) => {
      const source = node.source?.value;
      if (typeof source !== 'string' || !source.startsWith('.')) return;
      const target = resolve(dirname(file), source);
      const to = concernOf(target, srcRoot);
      if (to === undefined || to === from) return;
      const rel = relative(resolve(srcRoot, to), target);
      if (rel === 'index.js' || rel === 'index.ts') return;
      const suggestion = relative(dirname(file), resolve(srcRoot, to, 'index.js')).split(sep).join('/');
      context.report({ node: node.source, messageId: 'private', data: { source, target: to, suggestion: suggestion.startsWith('.') ? suggestion : `./${suggestion}` } });
    };
    return { ImportDeclaration: check, ExportNamedDeclaration: check, ExportAllDeclaration: check, ImportExpression: (node) => check({ source: node.source }) };
  },
};
