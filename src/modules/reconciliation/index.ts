/** What other modules may use of vendor reconciliation. */
export { ReconciliationService } from './reconciliation.service';
export { ReconciliationResolver } from './reconciliation.resolver';
