/**
 * Jest transform for postgres.js's connection.js: applies src/db/postgres-driver-patch.ts (the same
 * patch the server applies through require.cache, which jest's module registry does not use).
 */
const fs = require('node:fs');
const path = require('node:path');
const ts = require('typescript');

const patchFile = path.join(__dirname, '../../src/db/postgres-driver-patch.ts');
const compiled = ts.transpileModule(fs.readFileSync(patchFile, 'utf8'), { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true } });
const patchModule = { exports: {} };
new Function('exports', 'require', 'module', '__filename', '__dirname', compiled.outputText)(patchModule.exports, require, patchModule, patchFile, path.dirname(patchFile));

module.exports = {
  process(source) {
    return { code: patchModule.exports.patchPostgresConnectionSource(source) };
  },
  getCacheKey(source) {
    return require('node:crypto').createHash('sha256').update(source).update(fs.readFileSync(patchFile)).digest('hex');
  },
};
