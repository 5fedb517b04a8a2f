/**
 * Bundles the dashboard (src/dashboard/main.ts and everything it imports: the typed client,
 * graphql-ws, Chart.js) with esbuild into dist/dashboard/app.js, and copies its page and styles
 * beside it. Run by `npm run build` (so `npm start` and CI have it); the browser test calls
 * buildDashboard() itself.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { build } from 'esbuild';
import { dashboardDir, projectRoot } from '../server/dashboard';

const STATIC_FILES = ['index.html', 'styles.css'];

/** Where it went, its size, and the modules app.js still imports at run time (none: everything is bundled). */
export async function buildDashboard(outDir = dashboardDir()): Promise<{ outDir: string; bytes: number; runtimeImports: string[] }> {
  const source = path.join(projectRoot(), 'src', 'dashboard');
  await fs.mkdir(outDir, { recursive: true });
  const result = await build({
    entryPoints: [path.join(source, 'main.ts')],
    outfile: path.join(outDir, 'app.js'),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    sourcemap: 'linked',
    legalComments: 'linked', // the bundled libraries' licence notices, in app.js.LEGAL.txt
    define: { 'process.env.NODE_ENV': '"production"' },
    metafile: true,
    logLevel: 'warning',
  });
  for (const file of STATIC_FILES) await fs.copyFile(path.join(source, file), path.join(outDir, file));
  const outputs = Object.values(result.metafile.outputs);
  const bytes = outputs.reduce((sum, output) => sum + output.bytes, 0);
  return { outDir, bytes, runtimeImports: outputs.flatMap((output) => output.imports.map((i) => i.path)) };
}

if (require.main === module) {
  buildDashboard().then(({ outDir, bytes }) => {
    process.stdout.write(`dashboard bundled into ${path.relative(process.cwd(), outDir) || '.'} (${Math.round(bytes / 1024)} KiB with source map)\n`);
  }).catch((error: unknown) => {
    process.stderr.write(`dashboard build failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
}
