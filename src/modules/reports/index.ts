/** What other modules may use of reports. */
export { ReportsService } from './reports.service';
export { ReportsResolver } from './reports.resolver';
export { UsageReportService, type UsageReportRequest, type UsageReportView, type UsageTotalsView } from './usage-report.service';
export { UsageReportResolver } from './usage-report.resolver';
