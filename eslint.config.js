import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/node_modules/**', 'cdk/cdk.out/**', 'benchmarks/results/**', 'shared/src/db/migrations/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', performance: 'readonly', fetch: 'readonly', URL: 'readonly', TextDecoder: 'readonly', AbortController: 'readonly', Headers: 'readonly', NodeJS: 'readonly', __ENV: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-restricted-syntax': ['error', { selector: 'TSEnumDeclaration', message: 'Use `as const` objects: Node runs this code with type stripping.' }, { selector: 'TSModuleDeclaration[kind="namespace"]', message: 'No namespaces.' }],
      'no-restricted-imports': ['error', { paths: [{ name: 'kafkajs', message: 'Only shared/src/messaging/kafka.ts imports kafkajs.' }] }],
    },
  },
  { files: ['shared/src/messaging/kafka.ts'], rules: { 'no-restricted-imports': 'off' } },
  { files: ['**/*.test.ts', 'dev/testing/**'], rules: { '@typescript-eslint/no-explicit-any': 'off' } },
);
