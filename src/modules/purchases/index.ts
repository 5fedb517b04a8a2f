/** What other modules may use of purchases. */
export { PurchasesService } from './purchases.service';
export { PurchasesResolver, AutoTopUpResolver, WalletAutoTopUpResolver } from './purchases.resolver';
export { webhookRoute } from './webhook.route';
export { TestPaymentProvider } from './providers/test-provider';
export type { PaymentProvider } from './providers/payment-provider';
export { loadDemoPacks } from './demo-packs';
