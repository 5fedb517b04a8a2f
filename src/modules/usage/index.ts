/** What other modules may use of usage and forecasts. */
export { UsageService, type UsageWindow } from './usage.service';
export { UsageResolver, WalletForecastResolver } from './usage.resolver';
export type { ForecastRun } from './forecasts.job';
