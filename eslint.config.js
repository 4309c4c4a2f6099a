import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { folderBoundaries } from './eslint-rules/folder-boundaries.js';

export default tseslint.config(
  { ignores: ['dist/', 'build/', 'node_modules/', 'guests/**/*.ts', 'web/vendor/', 'data/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', URL: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', performance: 'readonly', TextEncoder: 'readonly', TextDecoder: 'readonly', WebAssembly: 'readonly', fetch: 'readonly', AbortController: 'readonly', queueMicrotask: 'readonly', setImmediate: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['src/**/*.ts'],
    plugins: { house: { rules: { 'folder-boundaries': folderBoundaries } } },
    rules: { 'house/folder-boundaries': 'error' },
  },
);
