/** What other modules may use of alerts. */
export { AlertsService, type NewAlert } from './alerts.service';
export { AlertsResolver } from './alerts.resolver';
