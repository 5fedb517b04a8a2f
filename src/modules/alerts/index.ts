/** What other modules may use of alerts. */
export { AlertsService, type NewAlert } from './alerts.service';
export type { AlertRow } from './alerts.repo';
export { alertsOfTransactions, lastAlertPos, recentAlerts } from './alerts.repo';
export { LowCreditAlert } from './alert.type';
export { AlertsResolver } from './alerts.resolver';
export { AdminAlertsService, type NewAdminAlert } from './admin-alerts.service';
export { AdminAlertsResolver } from './admin-alerts.resolver';
