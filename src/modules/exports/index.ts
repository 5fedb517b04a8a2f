/** What other modules may use of the CSV exports (mounted by src/main.ts under /reports). */
export { exportsRoute, type ExportsRouteDeps } from './exports.route';
export { ExportsService } from './exports.service';
export type { UsageReportSource } from './usage-csv';
