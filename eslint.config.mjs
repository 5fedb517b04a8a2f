// `npm run lint`: ESLint's recommended rules and typescript-eslint's recommended type-checked rules
// over src, test and bench (the type information comes from tsconfig.json).
import eslint from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'data/**', 'drizzle/**', 'src/client/generated/**', '**/*.js', '**/*.mjs'] },
  eslint.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      // Apollo's plugin hooks and our async iterators must return promises; `async` is the plain way
      // to write one that has nothing to wait for.
      '@typescript-eslint/require-await': 'off',
      // `_name` marks a parameter or binding kept for its position or to omit it from a rest object.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_', ignoreRestSiblings: true }],
    },
  },
);
