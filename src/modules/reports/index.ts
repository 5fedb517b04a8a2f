/** What other modules may use of reports. */
export { ReportsService } from './reports.service';
export { ReportsResolver } from './reports.resolver';
