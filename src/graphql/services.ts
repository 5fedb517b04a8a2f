/** The services a request can reach, built once per process by main.ts (`createServices`). */
import type { Config } from '../config';
import type { Clock } from '../shared/clock';
import type { Database, Db } from '../db/client';
import type { AuthService } from '../auth/auth.service';
import type { AccountsService } from '../modules/accounts';
import type { WalletsService } from '../modules/wallets';
import type { AuditService, LedgerService } from '../modules/ledger';
import type { WalletEventHub } from '../modules/events';
import type { PricingService } from '../modules/pricing';
import type { PlansService } from '../modules/plans';
import type { PurchasesService } from '../modules/purchases';
import type { AlertsService } from '../modules/alerts';
import type { EmailService } from '../modules/email';
import type { UsageService } from '../modules/usage';
import type { ReportsService } from '../modules/reports';
import type { UsageReportService } from '../modules/reports';
import type { ActivityService } from '../modules/activity';
import type { AdminAlertsService } from '../modules/alerts';
import type { ReconciliationService } from '../modules/reconciliation';
import type { AdviceService } from '../modules/advice';
import type { TeamsService } from '../modules/teams';
import type { ReviewsService } from '../modules/reviews';
import type { Loaders } from './loaders';
import type { AccessService } from '../auth/access';

export interface Services {
  config: Readonly<Config>;
  clock: Clock;
  database: Database;
  db: Db;
  auth: AuthService;
  accounts: AccountsService;
  wallets: WalletsService;
  ledger: LedgerService;
  audit: AuditService;
  events: WalletEventHub;
  pricing: PricingService;
  plans: PlansService;
  purchases: PurchasesService;
  alerts: AlertsService;
  email: EmailService;
  usage: UsageService;
  reports: ReportsService;
  usageReport: UsageReportService;
  activity: ActivityService;
  adminAlerts: AdminAlertsService;
  reconciliation: ReconciliationService;
  advice: AdviceService;
  /** Who may use which account (src/auth/access.ts): partner scopes, team roles. */
  access: AccessService;
  teams: TeamsService;
  reviews: ReviewsService;
  createLoaders(): Loaders;
}
