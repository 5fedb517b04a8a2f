/** What other modules may use of alerts. */
export { AlertsService, type NewAlert } from './alerts.service';
export type { AlertRow } from './alerts.repo';
export { AlertsResolver } from './alerts.resolver';
